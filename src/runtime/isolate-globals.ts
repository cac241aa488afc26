/**
 * Evaluated in every thread-isolation context before the prelude and the agent module. It removes
 * the ways to allocate memory that isolated-vm's memoryLimit does not count, so that every byte an
 * agent can allocate is inside its budget:
 * - WebAssembly: a Memory grows outside the V8 heap and outside the array buffer allocator
 *   (2 GiB under a 128 MiB limit was seen). Deleted; nothing else in the context refers to it.
 * - Resizable ArrayBuffer and growable SharedArrayBuffer (`{ maxByteLength }`): their backing store
 *   is reserved and committed by V8's page allocator, not the limited allocator, initial length
 *   included. The constructors are replaced by ones that refuse the option, on the global and as
 *   the prototypes' `constructor` (the only two routes to them); `resize`/`grow` go too.
 * Fixed-length buffers stay: they are counted, and an allocation over the limit is refused.
 */
export const ISOLATE_GLOBALS_HARDENING = String.raw`(function () {
  'use strict';
  const defineProperty = Object.defineProperty;
  const construct = Reflect.construct;
  delete globalThis.WebAssembly;
  function fixedLengthOnly(Original, name, growMethod) {
    const proto = Original.prototype;
    const Wrapped = function (length, options) {
      if (new.target === undefined) throw new TypeError('Constructor ' + name + " requires 'new'");
      if (options !== undefined && options !== null && typeof options === 'object' && options.maxByteLength !== undefined) {
        throw new RangeError('resizable ' + name + ' is not available in thread isolation (its memory would not count against the limit)');
      }
      return construct(Original, [length], new.target === Wrapped ? Original : new.target);
    };
    defineProperty(Wrapped, 'prototype', { value: proto, writable: false, enumerable: false, configurable: false });
    defineProperty(Wrapped, 'name', { value: name });
    defineProperty(Wrapped, 'length', { value: 1 });
    const isView = Original.isView;
    if (isView) defineProperty(Wrapped, 'isView', { value: isView, writable: true, configurable: true });
    const species = Object.getOwnPropertyDescriptor(Original, Symbol.species);
    if (species) defineProperty(Wrapped, Symbol.species, species);
    defineProperty(proto, 'constructor', { value: Wrapped, writable: true, enumerable: false, configurable: true });
    delete proto[growMethod];
    defineProperty(globalThis, name, { value: Wrapped, writable: true, enumerable: false, configurable: true });
  }
  fixedLengthOnly(ArrayBuffer, 'ArrayBuffer', 'resize');
  if (typeof SharedArrayBuffer === 'function') fixedLengthOnly(SharedArrayBuffer, 'SharedArrayBuffer', 'grow');
})();`;

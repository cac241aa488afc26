/**
 * The part of isolated-vm's API the thread level uses, declared here because the package is an
 * optional dependency (5.x on Node 20, 6.x on Node >= 22): the build must not need its typings.
 */
export interface IvmTransferOptions {
  arguments?: { copy?: boolean };
  result?: { promise?: boolean; copy?: boolean; reference?: boolean };
  timeout?: number;
}

export interface IvmReference<T = unknown> {
  apply(receiver: unknown, args: unknown[], options?: IvmTransferOptions): Promise<unknown>;
  applyIgnored(receiver: unknown, args: unknown[], options?: IvmTransferOptions): void;
  derefInto(): unknown;
  release(): void;
  /** Phantom marker so references to different shapes stay distinct types. */
  readonly __type?: T;
}

export interface IvmModule {
  readonly namespace: IvmReference<unknown>;
  instantiate(context: IvmContext, resolve: (specifier: string) => never): Promise<void>;
  evaluate(): Promise<unknown>;
  release(): void;
}

export interface IvmContext {
  evalClosure(code: string, args?: unknown[], options?: IvmTransferOptions): Promise<unknown>;
  release(): void;
}

export interface IvmIsolate {
  readonly isDisposed: boolean;
  readonly cpuTime: bigint;
  createContext(): Promise<IvmContext>;
  compileModule(code: string, options?: { filename?: string }): Promise<IvmModule>;
  getHeapStatistics(): Promise<{ used_heap_size: number; externally_allocated_size: number }>;
  dispose(): void;
}

export interface IvmModuleApi {
  Isolate: new (options: { memoryLimit: number }) => IvmIsolate;
  Reference: new <T>(value: T) => IvmReference<T>;
}

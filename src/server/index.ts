export { Gateway, VERSION, type GatewayOptions, type GatewayInfo } from './gateway.js';
export { buildApp } from './app.js';
export { statusFor, toErrorBody } from './error-map.js';

// @paradise/sdk: the REST client, the hub client and chat streaming for
// Paradise, generated from openapi.yaml and asyncapi.yaml (docs/sdk.md).
export * from './rest.js';
export * from './hub.js';
export * from './chat.js';
export { validate, type Schema } from './validate.js';
export { frameSchemas, serverFrameTypes, clientFrameTypes, contractVersion } from './frames.js';
export type * from '../ws/index.js';

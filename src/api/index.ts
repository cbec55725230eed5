// The HTTP API's public face: build the fastify server from its dependencies (the caller listens).
// Routes live in their own modules beside this one.
export { buildServer, type ServerDeps } from './server.ts';

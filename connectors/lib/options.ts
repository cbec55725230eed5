// Schema parts the connectors' options share.

/** The name of an environment variable holding a secret (options name the variable, never the secret). */
export const ENV_NAME_PATTERN = '^[A-Za-z_][A-Za-z0-9_]{0,127}$';

/** JSON Schema of such a name. */
export const ENV_NAME = { type: 'string', pattern: ENV_NAME_PATTERN } as const;

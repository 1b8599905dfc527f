/** The SQL dialects zgw-auth runs on. */
export type Dialect = 'sqlite' | 'postgres';

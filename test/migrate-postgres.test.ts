import { migrateTests } from './migrate.js';

migrateTests('postgres');

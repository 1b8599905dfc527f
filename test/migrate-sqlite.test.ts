import { migrateTests } from './migrate.js';

migrateTests('sqlite');

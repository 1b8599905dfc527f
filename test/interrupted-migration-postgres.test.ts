import { interruptedMigrationTests } from './interrupted-migration.js';

interruptedMigrationTests('postgres');

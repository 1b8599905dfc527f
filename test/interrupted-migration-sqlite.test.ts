import { interruptedMigrationTests } from './interrupted-migration.js';

interruptedMigrationTests('sqlite');

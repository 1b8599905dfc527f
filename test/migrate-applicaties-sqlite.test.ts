import { migrateApplicatiesTests } from './migrate-applicaties.js';

migrateApplicatiesTests('sqlite');

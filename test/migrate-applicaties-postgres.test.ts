import { migrateApplicatiesTests } from './migrate-applicaties.js';

migrateApplicatiesTests('postgres');

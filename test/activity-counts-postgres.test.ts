import { activityCountsTests } from './activity-counts.js';

activityCountsTests('postgres');

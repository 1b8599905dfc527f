import { activityCountsTests } from './activity-counts.js';

activityCountsTests('sqlite');

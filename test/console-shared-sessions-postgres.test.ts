import { sharedSessionTests } from './console-shared-sessions.js';

sharedSessionTests('postgres');

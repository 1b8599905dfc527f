import { interruptedFirstStart } from './interrupted-first-start.js';

interruptedFirstStart('postgres');

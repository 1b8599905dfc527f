import { organisationsTests } from './organisations.js';

organisationsTests('postgres');

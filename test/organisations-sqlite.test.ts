import { organisationsTests } from './organisations.js';

organisationsTests('sqlite');

import type { FastifyInstance } from 'fastify';
import type { ConsoleTools } from '../console-tools.js';

export function registerOrganisationPages(_app: FastifyInstance, _tools: ConsoleTools): void {}

import type { FastifyInstance } from 'fastify';
import type { ConsoleTools } from '../console-tools.js';

export function registerKeyPages(_app: FastifyInstance, _tools: ConsoleTools): void {}

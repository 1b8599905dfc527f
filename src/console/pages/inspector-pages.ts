import type { FastifyInstance } from 'fastify';
import type { ConsoleTools } from '../console-tools.js';

export function registerInspectorPages(_app: FastifyInstance, _tools: ConsoleTools): void {}

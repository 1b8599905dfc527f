import type { AuditEvent, AuditLog, AuditQuery } from '../audit/audit-log.js';
import type { ClientFilter } from '../clients/client-store.js';
import type { CredentialExpiry, ExpiringCredential } from '../clients/credential-expiry.js';
import {
  type Actor,
  type ClientKeyView,
  type ClientService,
  clientNotFound,
  type CreatedSecret,
} from '../clients/client-service.js';
import type { Client, ClientInput, ClientPatch, SecretInfo, SecretInput } from '../clients/model.js';
import {
  type Administrator,
  auditQueryFor,
  checkClientChange,
  checkNewClient,
  clientFilterFor,
  maySee,
} from './administration-policy.js';

/** The registry operations an administrator reaches. */
export type AdministeredClients = Pick<
  ClientService,
  | 'list'
  | 'create'
  | 'get'
  | 'update'
  | 'delete'
  | 'listSecrets'
  | 'addSecret'
  | 'revokeSecret'
  | 'listKeys'
  | 'addKeys'
  | 'removeKey'
>;

/**
 * The client registry and its audit trail as one administrator may see and change them
 * (administration-policy.ts): every admin route on clients, secrets and the audit trail goes
 * through here. A client the administrator may not see answers as one that does not exist.
 */
export class ClientAdministration {
  constructor(
    private readonly clients: AdministeredClients,
    private readonly audit: Pick<AuditLog, 'list'>,
    private readonly expiry?: Pick<CredentialExpiry, 'expiring'>,
  ) {}

  /**
   * Credentials expiring soon (within `windowSeconds`, when given) of the clients `admin` sees (of
   * `organisation` only, when given), soonest first.
   */
  async expiringCredentials(
    admin: Administrator,
    organisation?: string,
    windowSeconds?: number,
  ): Promise<ExpiringCredential[]> {
    const scoped = clientFilterFor(admin, { rsin: organisation, limit: 0, offset: 0 });
    if (!scoped || !this.expiry) return [];
    const rsin = scoped.rsin;
    // Filtered by the store, before its bound: a large registry cannot push an organisation's out.
    return this.expiry.expiring(windowSeconds, rsin);
  }

  async list(admin: Administrator, filter: ClientFilter): Promise<{ items: Client[]; total: number }> {
    const scoped = clientFilterFor(admin, filter);
    return scoped ? this.clients.list(scoped) : { items: [], total: 0 };
  }

  async create(
    admin: Administrator,
    input: ClientInput,
    actor: Actor,
  ): Promise<{ client: Client; secret?: CreatedSecret }> {
    checkNewClient(admin, input);
    return this.clients.create(input, actor);
  }

  get(admin: Administrator, clientId: string): Promise<Client> {
    return this.visible(admin, clientId);
  }

  async update(
    admin: Administrator,
    clientId: string,
    patch: ClientPatch,
    actor: Actor,
  ): Promise<{ client: Client; warnings: string[] }> {
    checkClientChange(admin, await this.visible(admin, clientId), patch);
    return this.clients.update(clientId, patch, actor);
  }

  async delete(admin: Administrator, clientId: string, actor: Actor): Promise<void> {
    checkClientChange(admin, await this.visible(admin, clientId));
    await this.clients.delete(clientId, actor);
  }

  async listSecrets(admin: Administrator, clientId: string): Promise<SecretInfo[]> {
    await this.visible(admin, clientId);
    return this.clients.listSecrets(clientId);
  }

  async addSecret(admin: Administrator, clientId: string, input: SecretInput, actor: Actor): Promise<CreatedSecret> {
    checkClientChange(admin, await this.visible(admin, clientId));
    return this.clients.addSecret(clientId, input, actor);
  }

  async revokeSecret(admin: Administrator, clientId: string, secretId: string, actor: Actor): Promise<SecretInfo> {
    checkClientChange(admin, await this.visible(admin, clientId));
    return this.clients.revokeSecret(clientId, secretId, actor);
  }

  async listKeys(admin: Administrator, clientId: string): Promise<ClientKeyView[]> {
    await this.visible(admin, clientId);
    return this.clients.listKeys(clientId);
  }

  async addKeys(admin: Administrator, clientId: string, text: string, actor: Actor): Promise<ClientKeyView[]> {
    checkClientChange(admin, await this.visible(admin, clientId));
    return this.clients.addKeys(clientId, text, actor);
  }

  async removeKey(admin: Administrator, clientId: string, kid: string, actor: Actor): Promise<ClientKeyView> {
    checkClientChange(admin, await this.visible(admin, clientId));
    return this.clients.removeKey(clientId, kid, actor);
  }

  async auditEvents(admin: Administrator, query: AuditQuery): Promise<AuditEvent[]> {
    const scoped = auditQueryFor(admin, query);
    return scoped ? this.audit.list(scoped) : [];
  }

  /** The client, when it exists for this administrator; otherwise the registry's own not-found. */
  private async visible(admin: Administrator, clientId: string): Promise<Client> {
    const client = await this.clients.get(clientId);
    if (!maySee(admin, client)) throw clientNotFound(clientId);
    return client;
  }
}

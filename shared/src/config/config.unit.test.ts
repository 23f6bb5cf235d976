import { describe, expect, it } from 'vitest';
import { loadApiConfig } from './api.ts';
import { DEVELOPMENT_JWT_SECRET } from './common.ts';
import { ConfigError, duration, parseDuration, type Env } from './env.ts';
import { loadGatewayConfig } from './gateway.ts';
import { loadWorkerConfig } from './worker.ts';
import { loadMigrateConfig } from './migrate.ts';

const PRODUCTION_SECRET = 'a-production-secret-that-is-over-32-characters';
/** Development defaults, asked for explicitly (a missing JWT_SECRET is refused otherwise). */
const DEV = { ENVIRONMENT: 'development' } as const;

/** The ConfigError a bad environment throws; fails the test when it does not. */
function problemsOf(env: Env): ConfigError {
  try {
    loadApiConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe('loadApiConfig', () => {
  it('fills every default when development defaults are asked for', () => {
    expect(loadApiConfig(DEV)).toEqual({
      environment: 'development',
      logLevel: 'info',
      database: { url: 'postgres://postgres:@127.0.0.1:5432/chat?sslmode=disable', poolMax: 10, connectTimeoutMs: 5_000, queryTimeoutMs: 5_000 },
      redis: { url: 'redis://127.0.0.1:6379', prefix: 'chat:', commandTimeoutMs: 2_000 },
      jwt: { secret: DEVELOPMENT_JWT_SECRET, expiryHours: 24 },
      corsOrigins: ['http://localhost:8080'],
      chat: { maxMessageLength: 2000, editWindowMs: 0, maxDistinctReactions: 20 },
      trustedProxies: ['127.0.0.0/8', '::1'],
      messageRateLimit: { points: 100, windowMs: 10_000 },
      reactionRateLimit: { points: 60, windowMs: 10_000 },
      readRateLimit: { points: 120, windowMs: 10_000 },
      typingRateLimit: { points: 60, windowMs: 10_000 },
      readReceiptsMaxMembers: 50,
      tokenCreateLimit: { points: 20, windowMs: 3_600_000 },
      storage: { kind: 'postgres' },
      healthTimeoutMs: 2_000,
      shutdownTimeoutMs: 10_000,
      host: '0.0.0.0',
      port: 8080,
      metrics: { enabled: true, host: '0.0.0.0', port: 9100 },
      bodyLimitBytes: 64 * 1024,
      passwordHashing: { concurrency: 2, maxQueue: 64 },
      loginLimits: {
        perAccount: { points: 10, windowMs: 900_000, blockMs: 900_000 },
        perAddress: { points: 100, windowMs: 900_000 },
      },
      registerLimit: { points: 50, windowMs: 3_600_000 },
      roomLimits: { maxRoomsPerUser: 100, maxMembersPerRoom: 1000 },
      uploads: {
        maxBytes: 10 * 1024 * 1024,
        dailyBytes: 200 * 1024 * 1024,
        allowedTypes: ['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'application/pdf', 'text/plain', 'application/zip'],
        orphanTtlMs: 24 * 3600_000,
        idleTimeoutMs: 15_000,
        timeoutMs: 120_000,
        sweepIntervalMs: 60_000,
      },
      integrations: { allowedTargets: [], vapidPublicKey: undefined },
      webhooks: { maxPerUser: 20, createLimit: { points: 20, windowMs: 3600_000 } },
      shutdownDrainMs: 5_000,
    });
  });

  it('reads every variable it knows', () => {
    const config = loadApiConfig({
      ENVIRONMENT: 'test',
      LOG_LEVEL: 'debug',
      REDIS_URL: 'rediss://cache.internal:6380/2',
      REDIS_PREFIX: 'stage:',
      JWT_SECRET: 'sixteen-chars-ok',
      JWT_EXPIRY_HOURS: '0.5',
      CORS_ALLOWED_ORIGINS: 'https://a.example.com, http://b.example.com:3000 ,',
      MESSAGE_MAX_LENGTH: '500',
      HOST: '127.0.0.1',
      PORT: '9000',
      MAX_BODY_BYTES: '2048',
      PASSWORD_HASH_CONCURRENCY: '4',
      PASSWORD_HASH_QUEUE: '0',
      DB_POOL_MAX: '3',
      DB_CONNECT_TIMEOUT: '1500ms',
      DB_QUERY_TIMEOUT: '750ms',
      REDIS_COMMAND_TIMEOUT: '250ms',
      HEALTH_TIMEOUT: '1s',
      SHUTDOWN_TIMEOUT: '30s',
      SHUTDOWN_DRAIN: '0s',
    });
    expect(config).toMatchObject({
      environment: 'test',
      logLevel: 'debug',
      redis: { url: 'rediss://cache.internal:6380/2', prefix: 'stage:', commandTimeoutMs: 250 },
      jwt: { secret: 'sixteen-chars-ok', expiryHours: 0.5 },
      corsOrigins: ['https://a.example.com', 'http://b.example.com:3000'],
      chat: { maxMessageLength: 500, editWindowMs: 0, maxDistinctReactions: 20 },
      host: '127.0.0.1',
      port: 9000,
      bodyLimitBytes: 2048,
      passwordHashing: { concurrency: 4, maxQueue: 0 },
      database: { poolMax: 3, connectTimeoutMs: 1_500, queryTimeoutMs: 750 },
      healthTimeoutMs: 1_000,
      shutdownTimeoutMs: 30_000,
      shutdownDrainMs: 0,
    });
  });

  it('treats an empty variable as unset', () => {
    const config = loadApiConfig({ ...DEV, PORT: '', REDIS_URL: '', JWT_SECRET: '', CORS_ALLOWED_ORIGINS: '' });
    expect(config.port).toBe(8080);
    expect(config.redis.url).toBe('redis://127.0.0.1:6379');
    expect(config.corsOrigins).toEqual(['http://localhost:8080']);
  });

  it('serves metrics unless METRICS_ENABLED says false, and refuses anything but a boolean', () => {
    expect(loadApiConfig(DEV).metrics).toEqual({ enabled: true, host: '0.0.0.0', port: 9100 });
    expect(loadApiConfig({ ...DEV, METRICS_ENABLED: 'false' }).metrics.enabled).toBe(false);
    expect(loadGatewayConfig({ ...DEV, METRICS_ENABLED: 'false', METRICS_PORT: '9200' }).metrics).toEqual({
      enabled: false,
      host: '0.0.0.0',
      port: 9200,
    });
    expect(problemsOf({ ...DEV, METRICS_ENABLED: 'maybe' }).problems).toEqual(['METRICS_ENABLED: must be true or false']);
  });

  it('names every bad variable in one ConfigError', () => {
    const error = problemsOf({
      PORT: 'abc',
      REDIS_URL: 'nope',
      JWT_EXPIRY_HOURS: '-1',
      LOG_LEVEL: 'loud',
      DATABASE_URL: 'mysql://db/chat',
      ENVIRONMENT: 'staging',
      MAX_BODY_BYTES: '10',
      CORS_ALLOWED_ORIGINS: 'localhost:8080',
    });
    const named = error.problems.map((p) => p.split(':')[0]);
    expect(named.sort()).toEqual(
      ['CORS_ALLOWED_ORIGINS', 'DATABASE_URL', 'ENVIRONMENT', 'JWT_EXPIRY_HOURS', 'LOG_LEVEL', 'MAX_BODY_BYTES', 'PORT', 'REDIS_URL'].sort(),
    );
    expect(error.message).toMatch(/^Invalid configuration:\n/);
    for (const name of named) expect(error.message).toContain(`  - ${name}: `);
    expect(error.problems.find((p) => p.startsWith('REDIS_URL'))).toBe('REDIS_URL: must be a redis:// or rediss:// URL');
    expect(error.problems.find((p) => p.startsWith('CORS_ALLOWED_ORIGINS'))).toContain('"localhost:8080" is not an origin');
  });

  it.each([
    ['PORT', '65536'],
    ['PORT', '80.5'],
    ['JWT_EXPIRY_HOURS', '0'],
    ['JWT_EXPIRY_HOURS', 'abc'],
    ['DB_PORT', 'x'],
    ['DB_NAME', 'chat; drop'],
    ['DB_SSLMODE', 'sometimes'],
    ['REDIS_PREFIX', 'has space'],
    ['MESSAGE_MAX_LENGTH', '0'],
    ['PASSWORD_HASH_CONCURRENCY', '0'],
    ['CORS_ALLOWED_ORIGINS', 'https://chat.example.com/path'],
    ['JWT_SECRET', 'short'],
    ['DB_CONNECT_TIMEOUT', '0s'],
    ['DB_QUERY_TIMEOUT', '0s'],
    ['DB_QUERY_TIMEOUT', 'forever'],
    ['REDIS_COMMAND_TIMEOUT', '0ms'],
    ['REDIS_COMMAND_TIMEOUT', '2 s'],
    ['HEALTH_TIMEOUT', 'soon'],
    ['SHUTDOWN_TIMEOUT', '-10s'],
    ['SHUTDOWN_DRAIN', '5 s'],
  ])('refuses %s=%s', (name, value) => {
    expect(problemsOf({ ...DEV, [name]: value }).problems).toEqual([expect.stringMatching(new RegExp(`^${name}: `))]);
  });

  describe('without JWT_SECRET', () => {
    it.each([
      ['unset', {}],
      ['empty', { ENVIRONMENT: '' }],
    ])('refuses to start when ENVIRONMENT is %s, naming the way out', (_name, env) => {
      const error = problemsOf({ ...env, PORT: '9000' });
      expect(error.problems).toEqual([expect.stringMatching(/^JWT_SECRET: required; .*ENVIRONMENT=development explicitly/)]);
      expect(() => loadGatewayConfig(env)).toThrow(/JWT_SECRET: required/);
    });

    it.each(['development', 'test'])('uses the development secret when ENVIRONMENT=%s is set explicitly', (environment) => {
      expect(loadApiConfig({ ENVIRONMENT: environment }).jwt.secret).toBe(DEVELOPMENT_JWT_SECRET);
      expect(loadGatewayConfig({ ENVIRONMENT: environment }).jwt.secret).toBe(DEVELOPMENT_JWT_SECRET);
    });

    it('is not needed when the secret is given: ENVIRONMENT may stay unset', () => {
      const config = loadApiConfig({ JWT_SECRET: PRODUCTION_SECRET });
      expect(config.environment).toBe('development');
      expect(config.jwt.secret).toBe(PRODUCTION_SECRET);
    });
  });

  describe('in production', () => {
    it.each([
      ['missing', undefined],
      ['the development default', DEVELOPMENT_JWT_SECRET],
      ['shorter than 32 characters', 'x'.repeat(31)],
    ])('refuses a JWT_SECRET that is %s', (_name, secret) => {
      const error = problemsOf({ ENVIRONMENT: 'production', ...(secret ? { JWT_SECRET: secret } : {}) });
      expect(error.problems).toEqual([expect.stringMatching(/^JWT_SECRET: production needs its own secret/)]);
    });

    it('accepts its own long secret and allows no CORS origin unless told', () => {
      const config = loadApiConfig({ ENVIRONMENT: 'production', JWT_SECRET: PRODUCTION_SECRET });
      expect(config.jwt.secret).toBe(PRODUCTION_SECRET);
      expect(config.corsOrigins).toEqual([]);
      const told = loadApiConfig({ ENVIRONMENT: 'production', JWT_SECRET: PRODUCTION_SECRET, CORS_ALLOWED_ORIGINS: 'https://chat.example.com' });
      expect(told.corsOrigins).toEqual(['https://chat.example.com']);
    });
  });

  it('allows http://localhost:8080 by default in development and test', () => {
    expect(loadApiConfig({ ENVIRONMENT: 'development' }).corsOrigins).toEqual(['http://localhost:8080']);
    expect(loadApiConfig({ ENVIRONMENT: 'test' }).corsOrigins).toEqual(['http://localhost:8080']);
  });
});

describe('loadWorkerConfig', () => {
  const vapid = { VAPID_PUBLIC_KEY: `B${'a'.repeat(86)}`, VAPID_PRIVATE_KEY: 'k'.repeat(43) };

  it('fills every default, with push off until VAPID keys are set', () => {
    const config = loadWorkerConfig(DEV);
    expect(config).toMatchObject({
      port: 8082,
      metrics: { enabled: true, host: '0.0.0.0', port: 9102 },
      integrations: { allowedTargets: [], vapidPublicKey: undefined },
      webhooks: {
        concurrency: 16,
        pollIntervalMs: 250,
        timeoutMs: 10_000,
        leaseMs: 30_000,
        maxFailures: 10,
        retryBaseMs: 1_000,
        retryMaxMs: 3600_000,
        maxRedirects: 3,
        retentionMs: 72 * 3600_000,
      },
      push: { vapid: undefined, coalesceMs: 30_000, ttlSeconds: 86_400 },
    });
    expect(config.workerId).toMatch(/^[\w.-]+$/);
    expect(loadWorkerConfig({ ...DEV, ...vapid }).push.vapid).toEqual({
      publicKey: vapid.VAPID_PUBLIC_KEY,
      privateKey: vapid.VAPID_PRIVATE_KEY,
      subject: 'mailto:admin@localhost',
    });
  });

  it('reads WEBHOOK_ALLOWED_TARGETS as hosts and CIDRs, and names every bad entry', () => {
    expect(loadWorkerConfig({ ...DEV, WEBHOOK_ALLOWED_TARGETS: ' 127.0.0.0/8, Hooks.Internal ,::1,10.1.2.3' }).integrations.allowedTargets).toEqual([
      '127.0.0.0/8',
      'hooks.internal',
      '::1',
      '10.1.2.3',
    ]);
    const problems = (env: Record<string, string>) => {
      try {
        loadWorkerConfig({ ...DEV, ...env });
        return [];
      } catch (error) {
        return (error as ConfigError).problems;
      }
    };
    expect(problems({ WEBHOOK_ALLOWED_TARGETS: '10.0.0.0/33,http://x,a/b/c' })).toEqual([
      'WEBHOOK_ALLOWED_TARGETS: "10.0.0.0/33": bad prefix length; "http://x" is not a host, an IP address or a CIDR; "a/b/c" is not a host, an IP address or a CIDR',
    ]);
    expect(problems({ VAPID_PUBLIC_KEY: vapid.VAPID_PUBLIC_KEY })).toEqual(['VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY: set both or neither']);
    expect(problems({ WEBHOOK_LEASE: '5s', WEBHOOK_TIMEOUT: '10s' })).toEqual([
      'WEBHOOK_LEASE: must be longer than WEBHOOK_TIMEOUT, or a slow attempt would lose its lease',
    ]);
  });
});

describe('database settings', () => {
  it('prefers DATABASE_URL over DB_*', () => {
    const config = loadApiConfig({ ...DEV, DATABASE_URL: 'postgresql://app:pw@db.internal:6543/chat_prod', DB_HOST: 'ignored', DB_NAME: 'ignored' });
    expect(config.database.url).toBe('postgresql://app:pw@db.internal:6543/chat_prod');
  });

  it('composes a URL from DB_*, escaping the credentials', () => {
    const config = loadApiConfig({
      ...DEV,
      DB_HOST: 'db.internal',
      DB_PORT: '6543',
      DB_NAME: 'chat_prod',
      DB_USER: 'app user',
      DB_PASSWORD: 'p@ss:w/rd#?',
      DB_SSLMODE: 'require',
    });
    expect(config.database.url).toBe('postgres://app%20user:p%40ss%3Aw%2Frd%23%3F@db.internal:6543/chat_prod?sslmode=require');
    const parsed = new URL(config.database.url);
    expect(decodeURIComponent(parsed.password)).toBe('p@ss:w/rd#?');
    expect(decodeURIComponent(parsed.username)).toBe('app user');
  });

  it('is all the migration command reads, with the same rules', () => {
    expect(loadMigrateConfig({ DB_NAME: 'other' })).toEqual({
      url: 'postgres://postgres:@127.0.0.1:5432/other?sslmode=disable',
      poolMax: 10,
      connectTimeoutMs: 5_000,
    });
    // API-only or JWT problems do not stop a migration.
    expect(loadMigrateConfig({ PORT: 'abc', ENVIRONMENT: 'production' }).url).toContain('/chat?');
    expect(() => loadMigrateConfig({ DATABASE_URL: 'http://db/chat', DB_POOL_MAX: '0' })).toThrow(ConfigError);
    try {
      loadMigrateConfig({ DATABASE_URL: 'http://db/chat', DB_POOL_MAX: '0' });
    } catch (error) {
      expect((error as ConfigError).problems.map((p) => p.split(':')[0])).toEqual(['DATABASE_URL', 'DB_POOL_MAX']);
    }
  });

  it('bounds the services’ statements and Redis commands, but not migrations', () => {
    const gateway = loadGatewayConfig({ ...DEV, DB_QUERY_TIMEOUT: '2s', REDIS_COMMAND_TIMEOUT: '500ms' });
    expect(gateway.database.queryTimeoutMs).toBe(2_000);
    expect(gateway.redis.commandTimeoutMs).toBe(500);
    expect(loadGatewayConfig(DEV).database.queryTimeoutMs).toBe(5_000);
    // A migration may rightly run long, and replicas wait on each other's lock.
    expect(loadMigrateConfig({ DB_QUERY_TIMEOUT: 'never' })).not.toHaveProperty('queryTimeoutMs');
  });
});

describe('Redis: a single node or a cluster', () => {
  it('connects to REDIS_URL unless REDIS_CLUSTER_NODES names a cluster', () => {
    expect(loadApiConfig({ ...DEV, REDIS_URL: 'redis://cache:6380' }).redis).toMatchObject({ url: 'redis://cache:6380', cluster: undefined });
    const config = loadGatewayConfig({
      ...DEV,
      REDIS_CLUSTER_NODES: ' redis-node-1:6379, 10.0.0.7:7001 ,[::1]:7002,',
      REDIS_USERNAME: 'chat',
      REDIS_PASSWORD: 'secret',
    });
    expect(config.redis.cluster).toEqual({
      nodes: [
        { host: 'redis-node-1', port: 6379 },
        { host: '10.0.0.7', port: 7001 },
        { host: '::1', port: 7002 },
      ],
      username: 'chat',
      password: 'secret',
    });
    expect(config.redis.prefix).toBe('chat:');
    // An empty REDIS_URL is unset, as compose's cluster override leaves it.
    expect(loadApiConfig({ ...DEV, REDIS_URL: '', REDIS_CLUSTER_NODES: 'a:1' }).redis.cluster?.nodes).toEqual([{ host: 'a', port: 1 }]);
  });

  it('refuses REDIS_URL and REDIS_CLUSTER_NODES together, bad node lists, and credentials that would not be used', () => {
    expect(problemsOf({ ...DEV, REDIS_URL: 'redis://cache:6379', REDIS_CLUSTER_NODES: 'a:1' }).problems).toEqual([
      'REDIS_CLUSTER_NODES: set either REDIS_URL (a single Redis) or REDIS_CLUSTER_NODES (a Redis Cluster), not both',
    ]);
    expect(problemsOf({ ...DEV, REDIS_CLUSTER_NODES: 'a:1,b,c:70000' }).problems).toEqual([
      'REDIS_CLUSTER_NODES: "b" is not host:port; "c:70000" is not host:port',
    ]);
    expect(problemsOf({ ...DEV, REDIS_CLUSTER_NODES: 'a:1,a:1' }).problems).toEqual(['REDIS_CLUSTER_NODES: "a:1" is listed twice']);
    expect(problemsOf({ ...DEV, REDIS_CLUSTER_NODES: ' , ' }).problems[0]).toMatch(/^REDIS_CLUSTER_NODES: lists no node/);
    expect(problemsOf({ ...DEV, REDIS_PASSWORD: 'secret' }).problems).toEqual([
      'REDIS_PASSWORD: only used with REDIS_CLUSTER_NODES; a single Redis takes its credentials from REDIS_URL',
    ]);
    expect(problemsOf({ ...DEV, REDIS_CLUSTER_NODES: 'a:1', REDIS_USERNAME: 'chat' }).problems).toEqual([
      'REDIS_PASSWORD: required with REDIS_USERNAME',
    ]);
    // A bad list is reported once, not followed by complaints about the credentials meant for it.
    expect(problemsOf({ ...DEV, REDIS_CLUSTER_NODES: 'nope', REDIS_USERNAME: 'chat', REDIS_PASSWORD: 'x' }).problems).toEqual([
      'REDIS_CLUSTER_NODES: "nope" is not host:port',
    ]);
  });
});

describe('loadGatewayConfig', () => {
  /** The ConfigError a bad gateway environment throws; fails the test when it does not. */
  function gatewayProblems(env: Env): string[] {
    try {
      loadGatewayConfig({ ...DEV, ...env });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as ConfigError).problems;
    }
    throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
  }

  it('fills the operational defaults when development defaults are asked for', () => {
    const config = loadGatewayConfig(DEV);
    expect(config).toMatchObject({
      port: 8081,
      metrics: { enabled: true, host: '0.0.0.0', port: 9101 },
      websocket: {
        pingPeriodMs: 54_000,
        pongWaitMs: 60_000,
        maxMessageBytes: 16 * 1024,
        hardLimitBytes: 64 * 1024,
        maxBufferedBytes: 4 * 1024 * 1024,
        maxQueuedMessages: 64,
      },
      socketio: { pingIntervalMs: 25_000, pingTimeoutMs: 20_000, maxQueuedMessages: 64, maxBufferedBytes: 4 * 1024 * 1024 },
      presence: { leaseMs: 30_000, flushMs: 1_000 },
      delivery: { gapWaitMs: 50, pollIntervalMs: 1_000, resumeMaxBacklog: 10_000, resumePageSize: 200 },
      healthTimeoutMs: 2_000,
      shutdownTimeoutMs: 10_000,
    });
  });

  it('reads the heartbeat, buffer and queue settings', () => {
    const config = loadGatewayConfig({
      ...DEV,
      SOCKETIO_PING_INTERVAL: '10s',
      SOCKETIO_PING_TIMEOUT: '5s',
      WEBSOCKET_MAX_BUFFERED_BYTES: '1048576',
      CONNECTION_MAX_QUEUED_MESSAGES: '8',
      SHUTDOWN_TIMEOUT: '1m',
    });
    expect(config.socketio).toEqual({ pingIntervalMs: 10_000, pingTimeoutMs: 5_000, maxQueuedMessages: 8, maxBufferedBytes: 1024 * 1024 });
    expect(config.websocket).toMatchObject({ maxBufferedBytes: 1024 * 1024, maxQueuedMessages: 8 });
    expect(config.shutdownTimeoutMs).toBe(60_000);
  });

  it.each([
    ['SOCKETIO_PING_INTERVAL', '0s'],
    ['SOCKETIO_PING_INTERVAL', 'often'],
    ['SOCKETIO_PING_TIMEOUT', '20 s'],
    ['WEBSOCKET_MAX_BUFFERED_BYTES', '1024'],
    ['WEBSOCKET_MAX_BUFFERED_BYTES', '4MiB'],
    ['CONNECTION_MAX_QUEUED_MESSAGES', '0'],
    ['CONNECTION_MAX_QUEUED_MESSAGES', '1.5'],
    ['SHUTDOWN_TIMEOUT', 'never'],
  ])('refuses %s=%s, naming it', (name, value) => {
    expect(gatewayProblems({ [name]: value })).toEqual([expect.stringMatching(new RegExp(`^${name}: `))]);
  });

  it('names every bad variable at once', () => {
    const named = gatewayProblems({ SOCKETIO_PING_TIMEOUT: 'x', WEBSOCKET_MAX_BUFFERED_BYTES: 'x', HEALTH_TIMEOUT: 'x' }).map((p) => p.split(':')[0]);
    expect(named.sort()).toEqual(['HEALTH_TIMEOUT', 'SOCKETIO_PING_TIMEOUT', 'WEBSOCKET_MAX_BUFFERED_BYTES']);
  });
});

describe('parseDuration', () => {
  it.each([
    ['54s', 54_000],
    ['1m30s', 90_000],
    ['500ms', 500],
    ['1h', 3_600_000],
    ['1h2m3s4ms', 3_723_004],
    ['1.5s', 1_500],
    ['10', 10_000],
    ['0s', 0],
  ])('reads %s as %i ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['abc', '', '5 s', 's', '-5s', '1d', '1m30', 'ms', '5sec'])('refuses %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it('backs a schema that defaults, and refuses zero or nonsense with a message naming the value', () => {
    expect(duration('54s').parse(undefined)).toBe(54_000);
    expect(duration('54s').parse('2m')).toBe(120_000);
    for (const bad of ['abc', '0s']) {
      const result = duration('54s').safeParse(bad);
      expect(result.success).toBe(false);
      expect(result.error?.issues[0]?.message).toBe(`"${bad}" is not a duration such as 54s, 500ms or 1m`);
    }
  });
});

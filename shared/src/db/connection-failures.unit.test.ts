import { describe, expect, it } from 'vitest';
import { isConnectionFailure, isServerTimeout } from './connection-failures.ts';

const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('isConnectionFailure', () => {
  it.each([
    ['refused', withCode('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432')],
    ['reset', withCode('ECONNRESET')],
    ['a socket timeout', withCode('ETIMEDOUT')],
    ['an unknown host', withCode('ENOTFOUND')],
    ['every address refused', new AggregateError([withCode('ECONNREFUSED'), withCode('ECONNREFUSED')], '')],
    ['class 08 (connection_failure)', withCode('08006')],
    ['class 08 (protocol_violation)', withCode('08P01')],
    ['admin shutdown', withCode('57P01', 'terminating connection due to administrator command')],
    ['crash shutdown', withCode('57P02')],
    ['cannot connect now', withCode('57P03', 'the database system is starting up')],
    ['too many connections', withCode('53300')],
    ['a statement timeout', withCode('57014', 'canceling statement due to statement timeout')],
    ['a dropped connection', new Error('Connection terminated unexpectedly')],
    ['a connect timeout', new Error('Connection terminated due to connection timeout')],
    ["pg-pool's connect timeout", new Error('timeout exceeded when trying to connect')],
    ["pg's query timeout", new Error('Query read timeout')],
    ['a broken client', new Error('Client has encountered a connection error and is not queryable')],
    ['an ended pool', new Error('Cannot use a pool after calling end on the pool')],
  ])('counts %s', (_name, error) => {
    expect(isConnectionFailure(error)).toBe(true);
  });

  it.each([
    ['a syntax error', withCode('42601', 'syntax error at or near "selec"')],
    ['a unique violation', withCode('23505', 'duplicate key value violates unique constraint')],
    ['a foreign key violation', withCode('23503')],
    ['a bad uuid', withCode('22P02')],
    ['a wrong password', withCode('28P01')],
    ['a missing database', withCode('3D000')],
    ['a deadlock', withCode('40P01')],
    ['a plain bug', new TypeError("Cannot read properties of undefined (reading 'id')")],
    ['a message that only mentions a connection', new Error('row for Connection terminated')],
    ['a non-error', 'ECONNREFUSED'],
    ['nothing', undefined],
  ])('leaves %s alone', (_name, error) => {
    expect(isConnectionFailure(error)).toBe(false);
  });
});

describe('isServerTimeout', () => {
  it('is only the server giving up on a statement, after which the connection still works', () => {
    expect(isServerTimeout(withCode('57014'))).toBe(true);
    expect(isServerTimeout(new Error('Query read timeout'))).toBe(false);
    expect(isServerTimeout(withCode('57P01'))).toBe(false);
  });
});

/**
 * The agent's JSON-RPC surface: dispatches what the frame reader (framing.ts) lets through,
 * converts and validates the params, calls the manager, and turns every failure into a coded
 * JSON-RPC error. Nothing here outlives the connection. Bad input is answered, never fatal:
 * bodies that are not JSON get -32700, messages that are not requests -32600 (both from the
 * reader), unknown methods -32601, wrong fields a BadRequest naming the field; the connection
 * keeps serving. Only a framing error ends it, after one answer (see framing.ts).
 */

import {
  ErrorCodes,
  type Message,
  type MessageWriter,
  type NotificationMessage,
  type ResponseMessage,
} from 'vscode-jsonrpc/node';
import {
  AgentUpdateRequest,
  BypassAttachRequest,
  BypassDetachRequest,
  BypassStatusRequest,
  ErrorCode,
  InitializeRequest,
  KernelBtfRequest,
  KernelHelpersRequest,
  KernelKfuncsRequest,
  KernelTargetsRequest,
  LinkDetachRequest,
  LogNotification,
  MapBtfRequest,
  MapDeleteRequest,
  MapDescribeRequest,
  MapReadRequest,
  MapsListRequest,
  MapUpdateRequest,
  NodeObjectsRequest,
  ProfileStartRequest,
  ProfileStopRequest,
  ProfileUpdateNotification,
  SocketsByCookieRequest,
  VerifyRequest,
  type ErrorData,
  type RequestSpec,
} from '@dfs/protocol';
import { AgentError } from './errors';
import { JSONRPC_PARSE_ERROR, type FrameReader, type RequestId } from './framing';
import type { AgentLog } from './log';
import type { Manager } from './manager';
import {
  parseAgentUpdate,
  parseBypassAttach,
  parseEmpty,
  parseInitialize,
  parseKernelBtf,
  parseKernelHelpers,
  parseKernelKfuncs,
  parseKernelTargets,
  parseLinkDetach,
  parseMapBtf,
  parseMapDelete,
  parseMapDescribe,
  parseMapRead,
  parseMapUpdate,
  parseNodeObjects,
  parseProfileStart,
  parseProfileStop,
  parseSocketsByCookie,
  parseVerify,
} from './params';

interface ErrorObject {
  code: number;
  message: string;
  data?: ErrorData;
}

function toErrorObject(err: unknown, log: AgentLog, method: string, opId: number): ErrorObject {
  if (err instanceof AgentError) {
    log.warn('rpc', `${method} failed: ${err.message}`, opId);
    return { code: err.code, message: err.message, data: err.toData() };
  }
  const message = err instanceof Error ? err.message : String(err);
  log.error('rpc', `${method} failed unexpectedly: ${err instanceof Error ? (err.stack ?? message) : message}`, opId);
  return {
    code: ErrorCode.Internal,
    message: `internal agent error: ${message}`,
    data: { code: ErrorCode.Internal, message },
  };
}

/** The agent's side of one connection: closes once, after a framing error or when the input ends. */
export interface AgentConnection {
  onClose(listener: (why: string) => void): void;
}

/** Answers that may be pending at once before the reader stops taking requests. */
const MAX_IN_FLIGHT = 16;
/** How long a framing error's answer may take to leave before the connection closes anyway. */
const FATAL_FLUSH_MS = 2000;

type Handler = (params: unknown, opId: number) => unknown;

/** A typed route: `parse` checks the wire params into P, `run` must answer the spec's R. */
function route<P, R>(
  spec: RequestSpec<P, R>,
  parse: (raw: unknown) => P,
  run: (params: P, opId: number) => R | Promise<R>,
): [string, Handler] {
  return [spec.method, (raw, opId) => run(parse(raw), opId)];
}

/**
 * Serve the manager over (reader, writer) until the input ends or a framing error: requests
 * are dispatched by method, every answer (result, coded error, invalid input) is written by
 * `writer`, and the manager's log is forwarded as `agent/log` notifications.
 */
export function serve(reader: FrameReader, writer: MessageWriter, manager: Manager, log: AgentLog): AgentConnection {
  // Each route is typed by its RequestSpec: the parser yields the spec's params and the
  // manager must return the spec's result, so the wire shapes in protocol/ cannot drift.
  const handlers = new Map<string, Handler>([
    route(InitializeRequest, parseInitialize, (p) => manager.initialize(p)),
    route(AgentUpdateRequest, parseAgentUpdate, (p) => manager.update(p)),
    route(VerifyRequest, parseVerify, (p, op) => manager.verify(p, op)),
    route(KernelBtfRequest, parseKernelBtf, (p) => manager.kernelBtf(p)),
    route(KernelHelpersRequest, parseKernelHelpers, (p, op) => manager.kernelHelpers(p, op)),
    route(KernelKfuncsRequest, parseKernelKfuncs, (p, op) => manager.kernelKfuncs(p, op)),
    route(KernelTargetsRequest, parseKernelTargets, (p) => manager.kernelTargets(p)),
    route(BypassAttachRequest, parseBypassAttach, (p, op) => manager.attachBypass(p, op)),
    route(
      BypassDetachRequest,
      (p) => parseEmpty(p, BypassDetachRequest.method),
      (_p, op) => manager.detachBypass(op),
    ),
    route(
      BypassStatusRequest,
      (p) => parseEmpty(p, BypassStatusRequest.method),
      () => manager.bypassStatus(),
    ),
    route(ProfileStartRequest, parseProfileStart, (p, op) => manager.startProfile(p, op)),
    route(ProfileStopRequest, parseProfileStop, (p, op) => manager.stopProfile(p, op)),
    route(NodeObjectsRequest, parseNodeObjects, (p) => manager.inspector.objects(p)),
    route(
      MapsListRequest,
      (p) => parseEmpty(p, MapsListRequest.method),
      () => manager.inspector.mapsList(),
    ),
    route(MapBtfRequest, parseMapBtf, (p) => manager.inspector.btf(p.id)),
    route(MapReadRequest, parseMapRead, (p) => manager.inspector.read(p.id, p.cursor, p.max)),
    route(MapUpdateRequest, parseMapUpdate, (p) => {
      const b = (s: string): Buffer => Buffer.from(s, 'base64');
      manager.inspector.update(p.id, b(p.key), b(p.value), p.mode ?? 'any', p.confirmedNotOurs);
      return {};
    }),
    route(MapDeleteRequest, parseMapDelete, (p) => {
      manager.inspector.delete(p.id, Buffer.from(p.key, 'base64'), p.confirmedNotOurs);
      return {};
    }),
    route(MapDescribeRequest, parseMapDescribe, (p) => manager.inspector.describe(p.id)),
    route(SocketsByCookieRequest, parseSocketsByCookie, (p) => ({ sockets: manager.inspector.sockets(p.cookies) })),
    route(LinkDetachRequest, parseLinkDetach, (p) => {
      manager.inspector.detachLink(p.id);
      return {};
    }),
  ]);
  const closeListeners: ((why: string) => void)[] = [];
  let closedWhy: string | undefined;
  let nextOp = 1;
  let inFlight = 0;

  const close = (why: string): void => {
    if (closedWhy !== undefined) return;
    closedWhy = why;
    reader.dispose();
    log.forwardTo(undefined);
    for (const l of closeListeners.splice(0)) l(why);
  };
  // A write fails only when the client is gone; main.ts hears that from stdout itself.
  const send = (msg: Message): Promise<void> => writer.write(msg).catch(() => undefined);
  const sendError = (id: RequestId | null, error: ErrorObject): Promise<void> =>
    send({ jsonrpc: '2.0', id, error } as ResponseMessage);

  /** Count an answer until it has left, pausing the reader while too many are pending. */
  const track = (answer: Promise<void>): void => {
    if (++inFlight >= MAX_IN_FLIGHT) reader.pause();
    void answer.finally(() => {
      if (--inFlight < MAX_IN_FLIGHT) reader.resume();
    });
  };

  const answer = async (id: RequestId, method: string, params: unknown): Promise<void> => {
    const opId = nextOp++;
    const handler = handlers.get(method);
    if (!handler) {
      log.warn('rpc', `unknown method ${JSON.stringify(method)}`, opId);
      return sendError(id, { code: ErrorCodes.MethodNotFound, message: `unknown method ${JSON.stringify(method)}` });
    }
    let result: unknown;
    try {
      result = await handler(params, opId);
    } catch (err) {
      return sendError(id, toErrorObject(err, log, method, opId));
    }
    return send({ jsonrpc: '2.0', id, result: result ?? null } as ResponseMessage);
  };

  reader.listen(
    (m) => {
      switch (m.kind) {
        case 'request':
          track(answer(m.id, m.method, m.params));
          return;
        case 'notification':
          // Nothing the agent does can be cancelled or configured by a notification: ignore it.
          return;
        case 'invalid':
          log.warn('rpc', m.message);
          track(sendError(m.id, { code: m.code, message: m.message }));
          return;
        case 'fatal': {
          const message = `${m.message}; the agent closes the connection: the stream cannot be trusted after a framing error`;
          log.warn('rpc', message);
          const flushed = sendError(null, { code: JSONRPC_PARSE_ERROR, message });
          // Not unref'd: the process must stay until close() has run the owner's cleanup.
          const bound = new Promise<void>((r) => setTimeout(r, FATAL_FLUSH_MS));
          void Promise.race([flushed, bound]).then(() => close(m.message));
          return;
        }
      }
    },
    (why) => close(why),
  );
  log.forwardTo(
    (entry) => void send({ jsonrpc: '2.0', method: LogNotification.method, params: entry } as NotificationMessage),
  );
  manager.onProfileUpdate(
    (u) => void send({ jsonrpc: '2.0', method: ProfileUpdateNotification.method, params: u } as NotificationMessage),
  );
  return {
    onClose: (listener) => {
      if (closedWhy !== undefined) listener(closedWhy);
      else closeListeners.push(listener);
    },
  };
}

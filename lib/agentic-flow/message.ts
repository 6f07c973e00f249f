/**
 * agentic-flow's message: `createQuicMessage(id, type, payload, metadata)`
 * and its types, in the shape agentic-flow's WASM module returned, and its
 * conversion to and from the wire format the core defines
 * (crates/core/src/message.rs; docs/agentic-flow.md).
 */
import type { BackendMessageCodec } from '../backend';
import { callBinding, invalidArg, quicError } from '../errors';
import { describeValue } from '../options';

/** The message types agentic-flow named; anything else is `{ Custom: name }`. */
export type MessageType = 'Task' | 'Result' | 'Status' | 'Coordination' | 'Heartbeat' | { Custom: string };

/** A message, as `createQuicMessage` makes it and `recvMessage` and the `'message'` events deliver it. */
export interface QuicMessage {
  id: string;
  msg_type: MessageType;
  /** Sent and delivered byte for byte. */
  payload: Uint8Array;
  /** Any JSON object (sent as JSON text), or undefined. */
  metadata?: Record<string, unknown>;
  /** Milliseconds since the Unix epoch, when the message was created. */
  timestamp: number;
}

const builtIn: Record<string, MessageType> = {
  task: 'Task',
  result: 'Result',
  status: 'Status',
  coordination: 'Coordination',
  heartbeat: 'Heartbeat',
};
const wireNames = new Map<MessageType, string>(Object.entries(builtIn).map(([name, type]) => [type, name]));

/** The type's name on the wire: `task`…`heartbeat`, or the custom name. */
export function messageTypeName(type: MessageType): string {
  if (typeof type === 'string') {
    const name = wireNames.get(type);
    if (name) return name;
  } else if (typeof type === 'object' && type !== null && typeof type.Custom === 'string' && type.Custom.length > 0) {
    if (type.Custom in builtIn) throw invalidArg(`msg_type: ${JSON.stringify(type.Custom)} is a built-in type, not a custom one`);
    return type.Custom;
  }
  throw invalidArg(`msg_type must be Task, Result, Status, Coordination, Heartbeat or { Custom: name }, got ${describeValue(type)}`);
}

function typeFromName(name: string): MessageType {
  return builtIn[name] ?? { Custom: name };
}

function checkMetadata(metadata: unknown, field: string): string | null {
  if (metadata === undefined || metadata === null) return null;
  if (typeof metadata !== 'object' || Array.isArray(metadata)) throw invalidArg(`${field} must be an object (or undefined), got ${describeValue(metadata)}`);
  try {
    return JSON.stringify(metadata);
  } catch (error) {
    throw invalidArg(`${field} must be JSON-serializable: ${(error as Error).message}`);
  }
}

/**
 * A message of type `type`: `task`, `result`, `status`, `coordination`,
 * `heartbeat`, or any other name for a custom type. `payload` is kept as
 * given (not copied); `metadata` must be a JSON-serializable object.
 */
export function createQuicMessage(id: string, type: string, payload: Uint8Array, metadata?: Record<string, unknown> | null): QuicMessage {
  if (typeof id !== 'string' || id.length === 0) throw invalidArg(`id must be a non-empty string, got ${describeValue(id)}`);
  if (typeof type !== 'string' || type.length === 0) throw invalidArg(`type must be a non-empty string, got ${describeValue(type)}`);
  if (!(payload instanceof Uint8Array)) throw invalidArg(`payload must be a Uint8Array, got ${describeValue(payload)}`);
  checkMetadata(metadata, 'metadata');
  return {
    id,
    msg_type: typeFromName(type),
    payload,
    ...(metadata === undefined || metadata === null ? {} : { metadata }),
    timestamp: Date.now(),
  };
}

/** The head of `message`'s frame (the payload follows it as it is), checked. */
export function encodeMessage(codec: BackendMessageCodec, message: QuicMessage): { head: Uint8Array; payload: Uint8Array } {
  if (typeof message !== 'object' || message === null) throw invalidArg(`message must be a QuicMessage (see createQuicMessage), got ${describeValue(message)}`);
  if (!(message.payload instanceof Uint8Array)) throw invalidArg(`message.payload must be a Uint8Array, got ${describeValue(message.payload)}`);
  const timestamp = message.timestamp;
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw invalidArg(`message.timestamp must be a non-negative integer, got ${describeValue(timestamp)}`);
  const header = JSON.stringify({ id: message.id, type: messageTypeName(message.msg_type), timestamp });
  const metadata = checkMetadata(message.metadata, 'message.metadata');
  const head = callBinding(() => codec.encodeMessageHead(header, metadata, message.payload.byteLength));
  return { head, payload: message.payload };
}

interface DecodedHead {
  id: string;
  type: string;
  timestamp: number;
  metadataOffset: number;
  metadataLength: number;
  payloadOffset: number;
  payloadLength: number;
}

/**
 * The bytes of a frame the core is first shown: kind and version, the
 * longest header (64 KiB) with its length, and the metadata length. With
 * those seen the core knows every length and asks for more at most once.
 */
const FIRST_LOOK_BYTES = 2 + 4 + 64 * 1024 + 4;

/** A whole received frame as a message; the payload is a view into `frame`. ERR_QUIC_BAD_FRAME if malformed. */
export function decodeMessage(codec: BackendMessageCodec, frame: Buffer): QuicMessage {
  let prefix = frame.subarray(0, Math.min(frame.length, FIRST_LOOK_BYTES));
  let head = JSON.parse(callBinding(() => codec.decodeMessageHead(prefix, frame.length))) as DecodedHead | { needs: number };
  if ('needs' in head) {
    prefix = frame.subarray(0, head.needs);
    head = JSON.parse(callBinding(() => codec.decodeMessageHead(prefix, frame.length))) as DecodedHead | { needs: number };
    if ('needs' in head) throw quicError('ERR_QUIC_INTERNAL', 'the core asked twice for more of a message frame');
  }
  const metadata =
    head.metadataLength === 0
      ? undefined
      : (JSON.parse(frame.toString('utf8', head.metadataOffset, head.metadataOffset + head.metadataLength)) as Record<string, unknown>);
  return {
    id: head.id,
    msg_type: typeFromName(head.type),
    payload: frame.subarray(head.payloadOffset, head.payloadOffset + head.payloadLength),
    ...(metadata === undefined ? {} : { metadata }),
    timestamp: head.timestamp,
  };
}

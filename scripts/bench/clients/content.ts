/**
 * Message content that carries its own identity and send time, so receivers in
 * another process measure latency without talking to the sender:
 * `bm|<tag>|<seq>|<sent at, epoch ms>|<padding>`.
 */
export function benchContent(tag: string, seq: number, sentAt: number, pad = 0): string {
  return `bm|${tag}|${seq}|${sentAt.toFixed(3)}|${'x'.repeat(pad)}`;
}

export function parseBenchContent(content: unknown): { tag: string; seq: number; sentAt: number } | undefined {
  if (typeof content !== 'string' || !content.startsWith('bm|')) return undefined;
  const [, tag, seq, sentAt] = content.split('|', 4);
  if (tag === undefined || seq === undefined || sentAt === undefined) return undefined;
  return { tag, seq: Number(seq), sentAt: Number(sentAt) };
}

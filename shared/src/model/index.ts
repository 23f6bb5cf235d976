// Types every layer speaks (db, events, chat, transports); this module imports no other.
export type { Actor } from './actor.ts';
export { chatMessage, type ChatMessage } from './message.ts';
export type { Page, PageResult } from './page.ts';
export { conversationId, type ConversationRef, type ConversationSummary, type ReadPosition } from './conversation.ts';

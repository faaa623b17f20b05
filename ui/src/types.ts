// Shapes of docs/protocol.md, as the server sends them.

export interface User {
  id: string;
  email: string;
  role: string;
}

export interface Conversation {
  id: string;
  title: string;
  created_at: string;
  updated_at: string;
  message_count: number;
}

/** docs/protocol.md "Citation" (seed 002's structured citation). */
export interface Citation {
  index: number;
  source_id: string | null;
  source_type: string | null;
  title: string | null;
  subtitle?: string;
  url: string | null;
  source_name: string | null;
  /** 0..100 */
  relevance_score: number | null;
  quoted_text: string | null;
  authors?: string[];
  publication_date?: string | null;
  journal?: string | null;
  volume?: string | null;
  issue?: string | null;
  pages?: string | null;
  doi?: string | null;
  pmid?: string | null;
  year?: number;
  context?: Record<string, unknown> | null;
}

export interface Feedback {
  message_id: string;
  rating: "up" | "down";
  comment: string | null;
  created_at: string;
  updated_at: string;
}

export type MessageStatus = "streaming" | "complete" | "cancelled" | "interrupted" | "error";

export interface Message {
  id: string;
  conversation_id: string;
  role: "user" | "assistant";
  content: string;
  status: MessageStatus;
  client_message_id: string | null;
  reply_to: string | null;
  finish_reason: string | null;
  usage: { prompt_tokens?: number; completion_tokens?: number } | null;
  citations: Citation[];
  created_at: string;
  updated_at: string;
  feedback?: Feedback | null;
  disclaimer?: string;
}

export interface Model {
  id: string;
  name: string;
  description?: string;
  provider?: string;
  local?: boolean;
  default?: boolean;
}

/** Any server event of the native protocol (type plus fields). */
export interface ServerEvent {
  type: string;
  [k: string]: unknown;
}

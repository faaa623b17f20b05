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
  /** The folder it is filed in, or null (docs/protocol.md "Folders"). */
  folder_id?: string | null;
}

export interface Folder {
  id: string;
  name: string;
  parent_folder_id: string | null;
  color: string | null;
  icon: string | null;
  conversation_count: number;
  created_at: string;
  updated_at: string;
}

export interface FolderNode extends Folder {
  children: FolderNode[];
}

/** A share link (docs/protocol.md "Share links"); the token is shown once. */
export interface Share {
  id: string;
  conversation_id: string;
  created_at: string;
  expires_at: string;
  password_protected: boolean;
  max_views: number | null;
  view_count: number;
  views_remaining: number | null;
  denied_count: number;
  last_access_at: string | null;
  revoked_at: string | null;
  state: "active" | "revoked" | "expired" | "view_limit";
  token?: string;
  share_url?: string;
}

export interface SharedView {
  conversation: { id: string; title: string; created_at: string; updated_at: string; message_count: number };
  messages: Message[];
  disclaimer: string;
  read_only: true;
  share: { expires_at: string; view_count: number; views_remaining: number | null; password_protected: boolean };
}

/** docs/protocol.md "Citation" (seed 002's structured citation). */
export interface Citation {
  index: number;
  source_id: string | null;
  source_type: string | null;
  title: string | null;
  /** The question type the cited passage answers ("Symptoms", "Treatment", "Page 2"). */
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
  grounding?: number | null;
  citations: Citation[];
  created_at: string;
  updated_at: string;
  feedback?: Feedback | null;
  disclaimer?: string;
  /** The workflow result this assistant message answers with (docs/workflows.md), null for an answer to a question. */
  workflow?: Record<string, unknown> | null;
}

export interface Model {
  id: string;
  name: string;
  description?: string;
  provider?: string;
  local?: boolean;
  default?: boolean;
  providers?: { name: string; kind: string; model: string; local: boolean }[];
}

/** Any server event of the native protocol (type plus fields). */
export interface ServerEvent {
  type: string;
  [k: string]: unknown;
}

/** docs/protocol.md "Clinical context": every member may be null (unknown). */
export interface Vitals {
  temperature?: number | null;
  heart_rate?: number | null;
  blood_pressure?: string | null;
  respiratory_rate?: number | null;
  spo2?: number | null;
}

export interface ClinicalContextFields {
  age?: number | null;
  gender?: string | null;
  weight_kg?: number | null;
  height_cm?: number | null;
  chief_complaint?: string | null;
  problems?: string[] | null;
  medications?: string[] | null;
  allergies?: string[] | null;
  vitals?: Vitals | null;
}

export interface ClinicalContext extends ClinicalContextFields {
  id: string;
  user_id: string;
  source: "manual" | "fhir";
  conversation_ids: string[];
  created_at: string;
  updated_at: string;
  import?: { warnings: string[]; counts: Record<string, number> };
}

/** docs/protocol.md "Attachments". */
export interface Attachment {
  id: string;
  message_id: string;
  conversation_id: string;
  file_name: string;
  file_type: string;
  mime_type: string;
  file_size: number;
  file_url: string;
  status: "pending" | "extracting" | "ready" | "failed";
  progress: number;
  error: { code: string; message: string } | null;
  metadata: Record<string, unknown> | null;
  created_at: string;
  updated_at: string;
}

/** docs/protocol.md "Citations": GET /api/messages/{id}/citations. */
export type CitationStyle = "apa" | "mla" | "chicago" | "vancouver" | "ama";

export interface FormattedCitation extends Citation {
  in_text: string;
  formatted: { text: string; markdown: string; html: string };
}

export interface Bibliography {
  style: string;
  label: string;
  title: string;
  numbered: boolean;
  entries: { index: number; number: number | null; in_text: string; text: string; markdown: string; html: string }[];
  text: string;
  markdown: string;
  html: string;
}

export interface FormattedCitations {
  message_id: string;
  style: string;
  label: string;
  citations: FormattedCitation[];
  bibliography: Bibliography;
}

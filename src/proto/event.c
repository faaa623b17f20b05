/* The internal event model's shared parts: event kind names and the
 * client-message lifetime (event.h). */
#include "proto/event.h"

#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {
    [MS_EV_CONNECTED] = "connected",
    [MS_EV_MESSAGE_START] = "message_start",
    [MS_EV_TOOL_CALL] = "tool_call",
    [MS_EV_TOOL_RESULT] = "tool_result",
    [MS_EV_MESSAGE_CHUNK] = "message_chunk",
    [MS_EV_MESSAGE_COMPLETE] = "message_complete",
    [MS_EV_ERROR] = "error",
    [MS_EV_PONG] = "pong",
    [MS_EV_LLM_CALL] = "llm_call",
    [MS_EV_LLM_RESULT] = "llm_result",
    [MS_EV_ROUTING] = "routing",
};

const char *ms_event_kind_name(ms_event_kind_t kind) {
    return (size_t)kind < MS_COUNTOF(kind_names) ? kind_names[kind] : "unknown";
}

void ms_client_msg_clear(ms_client_msg_t *m) {
    free(m->conversation_id);
    free(m->text);
    free(m->client_message_id);
    free(m->message_id);
    free(m->conversation_alias);
    free(m->model);
    free(m->clinical_context_id);
    memset(m, 0, sizeof *m);
}

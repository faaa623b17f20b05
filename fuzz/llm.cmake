# The model providers' stream parsers and citation filter (src/llm), for
# fuzz/CMakeLists.txt (after ms_fuzz is defined): include(llm.cmake).
# fuzz/run.sh finds their corpora in fuzz/corpus/<name> and dictionaries
# in fuzz/dict/<name>.dict.
ms_fuzz(llm_sse llm_sse.c LIBS ms_llm)
ms_fuzz(llm_cite llm_cite.c LIBS ms_llm)
ms_fuzz(llm_stream_openai llm_stream.c LIBS ms_llm)
ms_fuzz(llm_stream_ollama llm_stream.c DEFS FZ_WIRE_OLLAMA LIBS ms_llm)

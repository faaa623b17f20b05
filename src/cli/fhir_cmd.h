/* `medstream fhir ...`: FHIR R4 import of a patient's clinical context from
 * the command line (src/clinical/clinical.h does the mapping). */
#ifndef MS_CLI_FHIR_CMD_H
#define MS_CLI_FHIR_CMD_H

/** Runs `medstream fhir import [options] FILE` (or --server URL --patient
 * ID); argv[0] is "fhir". Prints the context JSON on stdout, warnings on
 * stderr; with --data-dir and --email stores it for that user. Returns the
 * process exit status: 0 success, 1 failure (message on stderr), 2 usage
 * error. */
int ms_cli_fhir(int argc, char **argv);

#endif

/* The sites behind the source codes medstream's knowledge base carries:
 * the twelve MedQuAD collections (Ben Abacha & Demner-Fushman 2019, their
 * readme: "NIH websites") and the site names of the starter passages. A
 * reference to a web page names its site and the organisation that runs
 * it; MedQuAD documents give only a code ("GHR") and a URL, so the table
 * says what the code stands for. Places are in Citing Medicine's form
 * ("Bethesda (MD)"); every NIH institute is in Bethesda, Maryland, and CDC
 * in Atlanta, Georgia. */
#include "cite/cite_int.h"

#include <string.h>

#define NLM "National Library of Medicine"
#define BETHESDA "Bethesda (MD)"

static const ms_cite_source_t sources[] = {
    {"GHR", "Genetics Home Reference", NLM, BETHESDA, "US"},
    {"MPlusHealthTopics", "MedlinePlus", NLM, BETHESDA, "US"},
    {"MPlusDrugs", "MedlinePlus", NLM, BETHESDA, "US"},
    {"MPlusHerbsSupplements", "MedlinePlus", NLM, BETHESDA, "US"},
    {"MPlusHerbsSuppls", "MedlinePlus", NLM, BETHESDA, "US"},
    {"ADAM", "MedlinePlus Medical Encyclopedia", NLM, BETHESDA, "US"},
    {"MedlinePlus", "MedlinePlus", NLM, BETHESDA, "US"},
    {"CancerGov", "National Cancer Institute", "National Cancer Institute", BETHESDA, "US"},
    {"GARD", "Genetic and Rare Diseases Information Center",
     "National Center for Advancing Translational Sciences", BETHESDA, "US"},
    {"NIDDK", "National Institute of Diabetes and Digestive and Kidney Diseases",
     "National Institute of Diabetes and Digestive and Kidney Diseases", BETHESDA, "US"},
    {"NINDS", "National Institute of Neurological Disorders and Stroke",
     "National Institute of Neurological Disorders and Stroke", BETHESDA, "US"},
    {"NIHSeniorHealth", "NIHSeniorHealth", "National Institute on Aging", BETHESDA, "US"},
    {"NHLBI", "National Heart, Lung, and Blood Institute",
     "National Heart, Lung, and Blood Institute", BETHESDA, "US"},
    {"CDC", "Centers for Disease Control and Prevention",
     "Centers for Disease Control and Prevention", "Atlanta (GA)", "US"},
};

const ms_cite_source_t *ms_cite_source(const char *code) {
    if (!code)
        return NULL;
    for (size_t i = 0; i < sizeof sources / sizeof *sources; i++)
        if (!strcmp(sources[i].code, code))
            return &sources[i];
    return NULL;
}

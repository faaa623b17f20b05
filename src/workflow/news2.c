/* NEWS2, exactly as the Royal College of Physicians' chart gives it:
 * "National Early Warning Score (NEWS) 2. Standardising the assessment of
 * acute-illness severity in the NHS. Updated report of a working party",
 * RCP London, December 2017, Chart 1 "The NEWS scoring system" and Chart 2
 * "NEWS thresholds and triggers". Every band below is one cell of Chart 1;
 * the chart is read at its own resolution (0.1 degrees Celsius, whole
 * breaths, beats, mmHg and percent), so a value is rounded to it first. */
#include "workflow/workflow.h"

#include <math.h>

/* A band: values up to and including hi score score (the last band of a
 * parameter has hi = INFINITY). */
typedef struct {
    double hi;
    int score;
} band_t;

/* Respiration rate, per minute: <=8 3, 9-11 1, 12-20 0, 21-24 2, >=25 3. */
static const band_t resp_rate[] = {{8, 3}, {11, 1}, {20, 0}, {24, 2}, {INFINITY, 3}};
/* SpO2 scale 1, %: <=91 3, 92-93 2, 94-95 1, >=96 0. */
static const band_t spo2_scale1[] = {{91, 3}, {93, 2}, {95, 1}, {INFINITY, 0}};
/* SpO2 scale 2 (target 88-92%), %, up to 92: <=83 3, 84-85 2, 86-87 1,
 * 88-92 0. From 93 the score depends on air or oxygen (below). */
static const band_t spo2_scale2_low[] = {{83, 3}, {85, 2}, {87, 1}, {92, 0}};
/* Scale 2 on oxygen: 93-94 1, 95-96 2, >=97 3 (on air, >=93 scores 0). */
static const band_t spo2_scale2_oxygen[] = {{94, 1}, {96, 2}, {INFINITY, 3}};
/* Systolic blood pressure, mmHg: <=90 3, 91-100 2, 101-110 1, 111-219 0,
 * >=220 3. */
static const band_t systolic[] = {{90, 3}, {100, 2}, {110, 1}, {219, 0}, {INFINITY, 3}};
/* Pulse, per minute: <=40 3, 41-50 1, 51-90 0, 91-110 1, 111-130 2, >=131 3. */
static const band_t pulse[] = {{40, 3}, {50, 1}, {90, 0}, {110, 1}, {130, 2}, {INFINITY, 3}};
/* Temperature, degrees Celsius: <=35.0 3, 35.1-36.0 1, 36.1-38.0 0,
 * 38.1-39.0 1, >=39.1 2. */
static const band_t temperature[] = {{35.0, 3}, {36.0, 1}, {38.0, 0}, {39.0, 1}, {INFINITY, 2}};

static int band_score(const band_t *b, size_t n, double v) {
    for (size_t i = 0; i < n; i++)
        if (v <= b[i].hi + 1e-9)
            return b[i].score;
    return b[n - 1].score;
}

#define SCORE(table, v) band_score((table), sizeof(table) / sizeof((table)[0]), (v))

/* The SpO2 cell: -1 when scale 2 needs to know air or oxygen and the
 * observations do not say. */
static int spo2_score(const ms_news2_input_t *in, double v) {
    if (in->spo2_scale != 2)
        return SCORE(spo2_scale1, v);
    if (v <= 92)
        return SCORE(spo2_scale2_low, v);
    if (!in->have[MS_NEWS2_AIR_OXYGEN])
        return -1;
    return in->value[MS_NEWS2_AIR_OXYGEN] != 0 ? SCORE(spo2_scale2_oxygen, v) : 0;
}

void ms_news2_score(const ms_news2_input_t *in, ms_news2_t *out) {
    out->aggregate = 0;
    out->npresent = 0;
    out->red = 0;
    for (int p = 0; p < MS_NEWS2_NPARAMS; p++) {
        int s = -1;
        if (in->have[p]) {
            double v = in->value[p];
            /* The chart's resolution: temperature to 0.1, the rest whole. */
            v = p == MS_NEWS2_TEMPERATURE ? round(v * 10.0) / 10.0 : round(v);
            switch ((ms_news2_param_t)p) {
            case MS_NEWS2_RESP_RATE:
                s = SCORE(resp_rate, v);
                break;
            case MS_NEWS2_SPO2:
                s = spo2_score(in, v);
                break;
            case MS_NEWS2_AIR_OXYGEN:
                s = in->value[p] != 0 ? 2 : 0;
                break;
            case MS_NEWS2_SYSTOLIC_BP:
                s = SCORE(systolic, v);
                break;
            case MS_NEWS2_PULSE:
                s = SCORE(pulse, v);
                break;
            case MS_NEWS2_CONSCIOUSNESS:
                s = in->value[p] != 0 ? 0 : 3;
                break;
            case MS_NEWS2_TEMPERATURE:
                s = SCORE(temperature, v);
                break;
            case MS_NEWS2_NPARAMS:
                break;
            }
        }
        out->score[p] = s;
        if (s >= 0) {
            out->aggregate += s;
            out->npresent++;
            out->red |= s == 3;
        }
    }
}

const char *ms_news2_urgency(const ms_news2_t *s) {
    if (s->aggregate >= 7)
        return "emergency";
    if (s->aggregate >= 5)
        return "high";
    if (s->red)
        return "moderate";
    return "low";
}

const char *ms_news2_risk(const ms_news2_t *s) {
    if (s->aggregate >= 7)
        return "high";
    if (s->aggregate >= 5)
        return "medium";
    if (s->red)
        return "low-medium";
    return "low";
}

const char *ms_news2_param_name(ms_news2_param_t p) {
    static const char *const names[] = {
        [MS_NEWS2_RESP_RATE] = "respiration_rate",
        [MS_NEWS2_SPO2] = "spo2",
        [MS_NEWS2_AIR_OXYGEN] = "air_or_oxygen",
        [MS_NEWS2_SYSTOLIC_BP] = "systolic_bp",
        [MS_NEWS2_PULSE] = "pulse",
        [MS_NEWS2_CONSCIOUSNESS] = "consciousness",
        [MS_NEWS2_TEMPERATURE] = "temperature",
    };
    return (unsigned)p < MS_NEWS2_NPARAMS ? names[p] : "unknown";
}

/* Helpers shared by the unit tests. */
#ifndef MS_TESTS_UNIT_UTIL_H
#define MS_TESTS_UNIT_UTIL_H

#include <ftw.h>
#include <stdio.h>

static int ms_test__rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/** Removes dir and everything below it (a test's temporary directory),
 * without a shell. 0 on success. */
static inline int ms_test_rm_rf(const char *dir) {
    return nftw(dir, ms_test__rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int ms_test__files_seen;

static int ms_test__count_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)path;
    (void)sb;
    (void)ftw;
    if (flag == FTW_F)
        ms_test__files_seen++;
    return 0;
}

/** The number of regular files below dir (any depth), or -1 when dir cannot
 * be walked. Not thread-safe (a test helper). */
static inline int ms_test_count_files(const char *dir) {
    ms_test__files_seen = 0;
    if (nftw(dir, ms_test__count_one, 16, FTW_PHYS) != 0)
        return -1;
    return ms_test__files_seen;
}

#endif

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Replays fuzzer inputs (files, or every file of a corpus directory) without libFuzzer, as a plain test. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
        g_autoptr(GError) error = NULL;
        g_autofree char *data = NULL;
        size_t size;

        if (!g_file_get_contents(path, &data, &size, &error)) {
                fprintf(stderr, "Failed to read %s: %s\n", path, error->message);
                return -1;
        }
        fprintf(stderr, "%s (%zu bytes)\n", path, size);
        (void) LLVMFuzzerTestOneInput((const uint8_t *) data, size);
        return 0;
}

static int compare_strings(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

static int run_path(const char *path, unsigned *n_run) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GPtrArray) files = NULL;
        g_autoptr(GDir) dir = NULL;
        const char *name;

        if (!g_file_test(path, G_FILE_TEST_IS_DIR)) {
                if (run_file(path) < 0)
                        return -1;
                (*n_run)++;
                return 0;
        }

        dir = g_dir_open(path, 0, &error);
        if (!dir) {
                fprintf(stderr, "Failed to open %s: %s\n", path, error->message);
                return -1;
        }

        /* Sorted, so that a failure reproduces in the same order everywhere. */
        files = g_ptr_array_new_with_free_func(g_free);
        while ((name = g_dir_read_name(dir)))
                if (name[0] != '.')
                        g_ptr_array_add(files, g_build_filename(path, name, NULL));
        g_ptr_array_sort(files, compare_strings);

        for (unsigned i = 0; i < files->len; i++) {
                if (g_file_test(files->pdata[i], G_FILE_TEST_IS_DIR))
                        continue;
                if (run_file(files->pdata[i]) < 0)
                        return -1;
                (*n_run)++;
        }
        return 0;
}

int main(int argc, char **argv) {
        unsigned n_run = 0;

        if (argc < 2) {
                fprintf(stderr, "Usage: %s FILE|DIRECTORY...\n", argv[0]);
                return EXIT_FAILURE;
        }

        for (int i = 1; i < argc; i++)
                if (run_path(argv[i], &n_run) < 0)
                        return EXIT_FAILURE;

        /* An empty corpus means the test ran nothing: fail rather than pass silently. */
        if (n_run == 0) {
                fprintf(stderr, "No inputs found\n");
                return EXIT_FAILURE;
        }
        fprintf(stderr, "%u inputs replayed\n", n_run);
        return EXIT_SUCCESS;
}

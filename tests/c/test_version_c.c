/* Label "c": a C99 program against the shared library. The one version of CMakeLists.txt
 * (BS_EXPECTED_VERSION, passed by tests/c/CMakeLists.txt) must reach the header macros,
 * bs_get_version(), bs_get_version_string() and bs_get_build_info(); the build info must name the
 * backends and CUDA details of this build (BS_EXPECTED_BACKENDS, BS_EXPECTED_CUDA_ARCHS) and the
 * CUDA runtime loaded at run time. Exit status 0 = pass. */
#include <blocksparse/blocksparse.h>

#include <stdio.h>
#include <string.h>

static int failures = 0;

#define CHECK(cond)                                                     \
  do {                                                                  \
    if (!(cond)) {                                                      \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                       \
    }                                                                   \
  } while (0)

/* Copies the value of `key` from the build info into out; returns 0 if the key is missing. The
 * info must list the keys in exactly this order, one `key=value` line each. */
static int info_value(const char* info, const char* key, char* out, size_t out_len) {
  size_t key_len = strlen(key);
  const char* line = info;
  while (*line) {
    const char* end = strchr(line, '\n');
    if (end == NULL) return 0; /* every line ends with a newline */
    if (strncmp(line, key, key_len) == 0 && line[key_len] == '=') {
      size_t n = (size_t)(end - line) - key_len - 1;
      if (n >= out_len) return 0;
      memcpy(out, line + key_len + 1, n);
      out[n] = '\0';
      return 1;
    }
    line = end + 1;
  }
  return 0;
}

static int is_major_dot_minor(const char* s) {
  int major = -1, minor = -1;
  char rest = 0;
  return sscanf(s, "%d.%d%c", &major, &minor, &rest) == 2 && major > 0 && minor >= 0;
}

int main(void) {
  static const char* const keys[] = {"version", "backends", "cuda_architectures", "cuda_toolkit",
                                     "cuda_runtime", "compiler", "build_type", "git_revision"};
  char text[64], value[256];
  const char* info = bs_get_build_info();
  const char* pos = info;
  size_t i;

  /* Headers: the macros agree with each other and with CMakeLists.txt. */
  CHECK(strcmp(BS_VERSION_STRING, BS_EXPECTED_VERSION) == 0);
  snprintf(text, sizeof text, "%d.%d.%d", BS_VERSION_MAJOR, BS_VERSION_MINOR, BS_VERSION_PATCH);
  CHECK(strcmp(text, BS_VERSION_STRING) == 0);
  CHECK(BS_VERSION == BS_VERSION_MAJOR * 10000 + BS_VERSION_MINOR * 100 + BS_VERSION_PATCH);
  CHECK(BS_ABI_VERSION == BS_VERSION_MAJOR);

  /* The library: the same version at run time. */
  CHECK(bs_get_version() == BS_VERSION);
  CHECK(bs_get_version_string() != NULL && strcmp(bs_get_version_string(), BS_VERSION_STRING) == 0);

  /* Build info: every key, in order, each once; values describe this build. */
  CHECK(info != NULL);
  if (info == NULL) return 1;
  printf("%s", info);
  for (i = 0; i < sizeof keys / sizeof keys[0]; ++i) {
    char prefix[64];
    const char* found;
    snprintf(prefix, sizeof prefix, "%s=", keys[i]);
    found = strstr(pos, prefix);
    CHECK(found != NULL && (found == info || found[-1] == '\n'));
    if (found != NULL) pos = found + strlen(prefix);
  }
  CHECK(info_value(info, "version", value, sizeof value) && strcmp(value, BS_VERSION_STRING) == 0);
  CHECK(info_value(info, "backends", value, sizeof value) && strcmp(value, BS_EXPECTED_BACKENDS) == 0);
  CHECK(info_value(info, "cuda_architectures", value, sizeof value) && strcmp(value, BS_EXPECTED_CUDA_ARCHS) == 0);
  CHECK(info_value(info, "compiler", value, sizeof value) && strlen(value) > 0);
  CHECK(info_value(info, "git_revision", value, sizeof value) && strlen(value) > 0);
  if (strcmp(BS_EXPECTED_BACKENDS, "cpu") == 0) {
    CHECK(info_value(info, "cuda_toolkit", value, sizeof value) && strcmp(value, "none") == 0);
    CHECK(info_value(info, "cuda_runtime", value, sizeof value) && strcmp(value, "none") == 0);
  } else {
    /* The runtime reports its version without a GPU or a driver. */
    CHECK(info_value(info, "cuda_toolkit", value, sizeof value) && strlen(value) > 0 && strcmp(value, "none") != 0);
    CHECK(info_value(info, "cuda_runtime", value, sizeof value) && is_major_dot_minor(value));
  }
  /* Static text: the same pointer every time. */
  CHECK(bs_get_build_info() == info);

  if (failures) fprintf(stderr, "test_version_c: %d check(s) failed\n", failures);
  return failures ? 1 : 0;
}

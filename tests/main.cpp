// The one doctest main of every unit test binary.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#define DOCTEST_CONFIG_NO_POSIX_SIGNALS  // the runtime watches signals itself
#include <doctest/doctest.h>

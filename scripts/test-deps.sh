#!/usr/bin/env bash
# Test dependencies from Debian's packages: headless Chromium and its WebDriver
# for the atod view browser test. Installed when missing and run as root;
# otherwise that test skips, saying so.
command -v chromium >/dev/null && command -v chromedriver >/dev/null && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	echo "test-deps: installing chromium and chromium-driver (the atod view browser test)"
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; } >/dev/null 2>&1 ||
		echo "test-deps: could not install chromium; the browser test will skip"
else
	echo "test-deps: no chromium/chromedriver and not root: the atod view browser test will skip"
fi
exit 0

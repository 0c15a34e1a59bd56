#!/usr/bin/env bash
# The system packages some of geoplan needs, installed only where that is possible.
#
# Only reports (static maps, PDF), the browser tests and Chinese chart labels need them: a
# Chromium-family browser (Chromium, Google Chrome or Microsoft Edge; driven by Playwright, so
# no browser download) and a CJK font. Everything else, and the Python install, works without.
#
# On Debian/Ubuntu the missing ones are installed with apt-get when this can be done without a
# question: as root, or with sudo that needs no password. Anywhere else, or when it cannot, it
# prints what to install and exits 0: set-up goes on. Run by `make test` and `make demo`.
#
# Usage: install_system_deps.sh [--dry-run] [PYTHON]
#   --dry-run  print the apt-get command instead of running it
#   PYTHON     the venv's interpreter (default .venv/bin/python): the browser is looked for
#              exactly as geoplan looks for it (geoplan.browser.find_chromium)
# For tests: $UNAME_S replaces `uname -s`, $OS_RELEASE the file /etc/os-release.
set -euo pipefail

dry_run=0
if [ "${1:-}" = "--dry-run" ]; then
    dry_run=1
    shift
fi
python="${1:-.venv/bin/python}"
system="${UNAME_S:-$(uname -s)}"
os_release="${OS_RELEASE:-/etc/os-release}"

has_browser() {
    "$python" -c 'from geoplan.browser import find_chromium; find_chromium()' >/dev/null 2>&1
}

has_cjk_font() {
    if command -v fc-list >/dev/null 2>&1; then  # Linux: fontconfig knows every font
        fc-list 2>/dev/null | grep -i -e "Noto Sans CJK" -e "Source Han Sans" -e "WenQuanYi" \
            >/dev/null  # no -q: no SIGPIPE under pipefail
    else  # macOS, Windows: ask matplotlib, as the charts do
        "$python" -c 'import sys; from geoplan.charts import find_cjk_font
sys.exit(find_cjk_font() is None)' >/dev/null 2>&1
    fi
}

is_debian() {
    [ "$system" = "Linux" ] && [ -r "$os_release" ] || return 1
    local id id_like
    id="$(. "$os_release" && echo "${ID:-}")"
    id_like="$(. "$os_release" && echo "${ID_LIKE:-}")"
    case " $id $id_like " in
        *" debian "* | *" ubuntu "*) return 0 ;;
        *) return 1 ;;
    esac
}

missing=()    # Debian package names
wanted=()     # what they are, for any system
if ! has_browser; then
    missing+=(chromium)
    wanted+=("a browser (Chromium, Google Chrome or Microsoft Edge)")
fi
if ! has_cjk_font; then
    missing+=(fonts-noto-cjk)
    wanted+=("a CJK font (Noto Sans CJK)")
fi
[ ${#missing[@]} -eq 0 ] && exit 0

explain() {
    echo "geoplan: not installed: $(printf '%s and ' "${wanted[@]}" | sed 's/ and $//')."
    echo "  Only report maps and PDFs, the browser tests and Chinese chart labels need them;"
    echo "  everything else works (those tests are skipped, and listed, without them)."
    echo "  To install: $1"
}

if is_debian && command -v apt-get >/dev/null 2>&1; then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            sudo="sudo"
        else
            explain "sudo apt-get install ${missing[*]}"
            exit 0
        fi
    fi
    command=($sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" fontconfig)
    if [ $dry_run -eq 1 ]; then
        echo "would run: ${command[*]}"
        exit 0
    fi
    echo "installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! { $sudo apt-get update -qq && "${command[@]}" >/dev/null; }; then
        explain "apt-get failed (above); run: sudo apt-get install ${missing[*]}"
        exit 0
    fi
    fc-cache -f >/dev/null 2>&1 || true
    # matplotlib keeps its own list of fonts: drop it so that the new font is seen
    "$python" -c 'import matplotlib, pathlib
for p in pathlib.Path(matplotlib.get_cachedir()).glob("fontlist-*.json"): p.unlink()' \
        >/dev/null 2>&1 || true
    exit 0
fi

case "$system" in
    Darwin)
        explain "Google Chrome, Microsoft Edge or Chromium (brew install --cask chromium); a CJK font such as PingFang SC comes with macOS" ;;
    MINGW* | MSYS* | CYGWIN* | Windows*)
        explain "Microsoft Edge (part of Windows 10/11) or Google Chrome; Microsoft YaHei comes with Windows" ;;
    *)
        explain "your system's chromium (or Google Chrome) and Noto Sans CJK font packages, e.g. dnf install chromium google-noto-sans-cjk-fonts, pacman -S chromium noto-fonts-cjk" ;;
esac
echo "  A browser elsewhere: set GEOPLAN_CHROMIUM to its executable."
exit 0

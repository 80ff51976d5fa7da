"""luci-app-mip4 on the real LuCI: uhttpd, rpcd (its ACL and sessions), LuCI's ucode dispatcher and its
JS runtime, all from OpenWrt's userland in the sandbox (tests/router/owrt.py), driven in headless Chromium
as a person would: log in, read the status view while the router moves, edit the settings and Save & Apply
through LuCI's rollback apply; a bad value is refused in the form. Screenshots go to tests/artifacts/.

The `mip4` ubus object is published from this process (fixture `mip4_ubus`) by mip4d's own module
(mip4.ubus.object), answering from a live status model (tests/router/live.py)."""
from __future__ import annotations

import ast
import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mip4.ubus.object import ThreadedMip4Object
from mip4.uci import schema
from tests.router.live import LiveNode
from tests.router.owrt import PASSWORD, OpenWrt, login, rpc

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests/artifacts"
APP = ROOT / "luci-app"
VIEWS = APP / "htdocs/luci-static/resources/view/mip4"
POT = APP / "po/templates/mip4.pot"


# -- the mip4 ubus object, from this process --------------------------------------------------------------

class Published:
    """`node` served as mip4d serves itself: its own `mip4` ubus object (mip4.ubus.object) on the sandbox's
    ubusd, answering on a thread of this process. A method named in `failing` fails as a bug of mip4d's
    would (ubus status 9): the page's error path. `calls` lists what reached the object."""

    def __init__(self, socket: str, node: LiveNode) -> None:
        self.node, self.failing, self.calls = node, set(), []
        self.obj = ThreadedMip4Object(self, socket)

    def _reached(self, method: str) -> None:
        self.calls.append(method)
        if method in self.failing:
            raise RuntimeError("mip4 %s: failing on purpose (test)" % method)

    def status(self) -> dict:
        self._reached("status")
        return self.node.status()

    def reregister(self) -> dict:
        self._reached("reregister")
        return self.node.reregister()

    def log(self, since: int, limit: int) -> list[dict]:
        self._reached("log")
        return self.node.log(since, limit)

    def close(self) -> None:
        self.obj.close()


@pytest.fixture
def node() -> LiveNode:
    """The router on its intranet uplink, registering in real time (LiveNode.run() would jump ahead, but then
    holds the clock still for twice the jump)."""
    n = LiveNode(speed=1.0)
    n.do(n.w.connect, "wan", "lan1", "10.2.0.5")
    return n


@pytest.fixture
def mip4_ubus(ow: OpenWrt, node: LiveNode) -> Iterator[Published]:
    """The `mip4` object, published by mip4d's own module for a live node."""
    obj = Published(ow.ubus_socket, node)
    ow.wait_for(lambda: ow.sh("ubus list mip4", check=False).returncode == 0, "mip4 on ubus")
    yield obj
    obj.close()


# -- the browser -------------------------------------------------------------------------------------------

@pytest.fixture
def browser() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,2000"):
        opts.add_argument(arg)
    d = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=opts)
    yield d
    d.quit()


def until(driver, fn, what: str, limit: float = 30.0):  # noqa: ANN001, ANN201
    end = time.monotonic() + limit
    while True:
        try:
            got = fn()
        except Exception:  # noqa: BLE001  (the page is between renders)
            got = None
        if got:
            return got
        if time.monotonic() > end:
            shot(driver, "failed")
            seen = driver.execute_script("var m = document.getElementById('modal_overlay');"
                                         " return (m ? m.innerText + ' | ' : '') + document.body.innerText")
            raise AssertionError("the page never showed %s; it shows: %s" % (what, seen[:1500]))
        time.sleep(0.2)


def shot(driver, name: str) -> None:  # noqa: ANN001
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / ("luci-mip4-%s.png" % name)))


def log_in(driver, ow: OpenWrt, path: str, user: str = "root") -> None:  # noqa: ANN001
    """Open LuCI at `path` and log in through its login form, as a person would."""
    from selenium.webdriver.common.by import By

    driver.get("http://%s/cgi-bin/luci/%s" % (ow.address, path))
    name = until(driver, lambda: [e for e in driver.find_elements(By.ID, "luci_username") if e.is_displayed()],
                 "the login form")[0]
    name.clear()
    name.send_keys(user)
    driver.find_element(By.ID, "luci_password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "button.cbi-button-positive").click()
    until(driver, lambda: driver.find_elements(By.CSS_SELECTOR, "#view > :not(.spinning)"), "the view")


def js(driver, script: str, *args):  # noqa: ANN001, ANN201
    return driver.execute_script(script, *args)


def text(driver, element_id: str) -> str:  # noqa: ANN001
    return js(driver, "var e = document.getElementById(arguments[0]); return e ? e.innerText.trim() : ''", element_id)


def shown(driver, element_id: str) -> bool:  # noqa: ANN001
    return js(driver, "var e = document.getElementById(arguments[0]); return !!e && e.offsetParent !== null",
              element_id)


def notices(driver) -> list[str]:  # noqa: ANN001
    """LuCI's notifications (ui.addNotification), newest first, without their Dismiss button."""
    return js(driver, "return Array.from(document.querySelectorAll('#maincontent > .alert-message'))"
                      ".map(function(e) { return e.firstElementChild.innerText.trim(); })")


def uplink(driver, name: str) -> dict:  # noqa: ANN001
    return js(driver, """
        var tr = document.querySelector('tr.mip4-uplink[data-uplink="' + arguments[0] + '"]');
        if (!tr) return null;
        var c = function(k) { return tr.querySelector('.mip4-' + k).innerText.trim(); }, regs = {};
        tr.querySelectorAll('.mip4-reg').forEach(function(g) {
            regs[g.dataset.agent] = {title: g.getAttribute('title'), text: g.innerText.trim(),
                                     width: parseFloat(g.firstChild.style.width)};
        });
        return {coa: c('coa'), network: c('network'), gate: c('gate'), state: c('state'), mode: c('mode'),
                tmon: c('tmon'), regs: regs};
    """, name)


# -- rpcd's ACL for the views' calls -------------------------------------------------------------------------

def test_the_acl_grants_the_views_calls_and_no_more(ow, node, mip4_ubus):
    """luci-app-mip4's ACL through uhttpd and rpcd: `viewer` (read: luci-base, luci-app-mip4) reads the
    status, the log and /etc/config/mip4, and may not re-register or write; root may."""
    viewer, root = login(ow, "viewer"), login(ow, "root")
    ow.wait_for(lambda: len(node.log(0, 3)) == 3, "three lines in mip4d's log")  # it registers in real time
    r = rpc(ow, viewer, "mip4", "status")
    assert r["result"][0] == 0 and r["result"][1]["role"] == "mn", r
    r = rpc(ow, viewer, "mip4", "log", {"since": 0, "limit": 3})
    assert r["result"][0] == 0 and len(r["result"][1]["lines"]) == 3, r
    assert rpc(ow, viewer, "uci", "get", {"config": "mip4", "section": "node", "option": "t_monitor"})["result"] == [
        0, {"value": "60"}]
    denied = -32002  # uhttpd: access denied by the session's ACL
    assert rpc(ow, viewer, "mip4", "reregister")["error"]["code"] == denied
    assert rpc(ow, viewer, "uci", "set", {"config": "mip4", "section": "node", "values": {"t_monitor": "61"}}
               )["error"]["code"] == denied
    assert rpc(ow, viewer, "mip4", "interfaces")["error"]["code"] == denied  # not what the views call
    assert rpc(ow, root, "mip4", "reregister")["result"][0] == 0
    # what reached the object (each method also reads the status for the role: methods.call)
    assert [c for c in mip4_ubus.calls if c != "status"] == ["log", "reregister"] and "status" in mip4_ubus.calls


# -- the status view ---------------------------------------------------------------------------------------

def test_status_view_shows_live_data_updates_in_place_and_survives_a_failed_call(ow, node, mip4_ubus, browser):
    d = browser
    log_in(d, ow, "admin/services/mip4")  # the menu entry is an alias of its first tab, the status view
    until(d, lambda: d.find_element("css selector", "#tabmenu li.active").text == "Status", "the Status tab")
    until(d, lambda: text(d, "mip4-mode") == "c", "mode c")
    assert text(d, "mip4-mode-text") == "inside, co-located care-of (c)"
    assert text(d, "mip4-verdict") == "inside" and "-> inside (i-ha-tnc)" in text(d, "mip4-reason")
    assert text(d, "mip4-ike").startswith("down") and text(d, "mip4-child") == "down"
    assert text(d, "mip4-tmonitor").startswith("next proof due in ") and text(d, "mip4-tmonitor").endswith("of 60 s")
    assert text(d, "mip4-daemon").startswith("role mn, PID ")
    wan = uplink(d, "wan")
    assert (wan["coa"], wan["network"], wan["gate"], wan["state"], wan["mode"]) == (
        "10.2.0.5", "wan", "plain", "inside", "c")
    ih = wan["regs"]["i-ha"]
    assert ih["title"].startswith("i-ha: ") and ih["title"].endswith(" / 1800 s") and 90 <= ih["width"] <= 100
    assert ih["text"] == ""  # the theme draws the title inside the bar: no second label beside it
    assert "none \u2192 wan/c" in text(d, "mip4-handoffs")
    assert "primary uplink: wan" in text(d, "mip4-log")
    # a status page: no Save, Save & Apply or Reset
    assert js(d, "return Array.from(document.querySelectorAll('.cbi-page-actions button')).length") == 0
    # LuCI's default poll interval (L.env.pollinterval), not a tighter one of our own
    assert js(d, "return L.env.pollinterval") == 5
    assert js(d, "return L.Poll.queue.map(function(q) { return q.i; })") == [5]
    shot(d, "status")

    # partial updates: the countdown moves while the elements stay the same
    js(d, "window.mip4Kept = [document.getElementById('mip4-verdict'), document.querySelector('tr[data-uplink=wan]'),"
          " document.querySelector('tr[data-uplink=wan] .mip4-reg')]")
    before = uplink(d, "wan")["tmon"]
    until(d, lambda: uplink(d, "wan")["tmon"] != before, "the T_MONITOR countdown moving", 15)
    assert js(d, "return window.mip4Kept[0] === document.getElementById('mip4-verdict') &&"
                 " window.mip4Kept[1] === document.querySelector('tr[data-uplink=wan]') &&"
                 " window.mip4Kept[2] === document.querySelector('tr[data-uplink=wan] .mip4-reg')")

    # the router drives out of the intranet onto an external network while the page is open
    node.do(node.w.disconnect, "wan")
    node.do(node.w.connect, "wwan", "ext1", "198.18.0.5")
    until(d, lambda: text(d, "mip4-mode") == "cvc", "mode cvc", 40)
    until(d, lambda: text(d, "mip4-child") == "up" and uplink(d, "wwan")["regs"].get("vpn", {}).get("width", 0) > 90,
          "the CHILD_SA and the i-MIP registration through the VPN", 30)
    assert text(d, "mip4-verdict") == "outside" and text(d, "mip4-ike").startswith("up")
    assert uplink(d, "wwan")["coa"] == "198.18.0.5" and uplink(d, "wan")["state"] == "down"
    assert "wan/c \u2192 wwan/cvc, no data for" in text(d, "mip4-handoffs")  # newest first, with the gap
    assert js(d, "return window.mip4Kept[0] === document.getElementById('mip4-verdict')")
    shot(d, "status-outside")

    # Re-register now: a write method, through rpcd's ACL
    d.find_element("id", "mip4-reregister").click()
    until(d, lambda: notices(d) == ["Re-registering on wwan"], "the re-register notice", 15)
    assert "reregister" in mip4_ubus.calls

    # one failed call: its error is shown, the rest of the page keeps working
    mip4_ubus.failing = {"log"}
    until(d, lambda: shown(d, "mip4-log-error"), "the log's error", 15)
    assert text(d, "mip4-log-error") == "The log of mip4d could not be read."
    kept = text(d, "mip4-daemon")  # its uptime moves at each poll
    until(d, lambda: text(d, "mip4-daemon") != kept, "the status still updating while the log fails", 15)
    assert not shown(d, "mip4-error")
    mip4_ubus.failing = {"status"}
    until(d, lambda: shown(d, "mip4-error"), "the status call's error", 15)
    assert text(d, "mip4-error") == ("Could not read the status of mip4d: RPC call to mip4/status failed with ubus"
                                     " code 9: Unspecified error")
    assert text(d, "mip4-mode") == "cvc"  # the last values stay
    mip4_ubus.failing = {"status", "reregister"}
    d.find_element("id", "mip4-reregister").click()
    until(d, lambda: len(notices(d)) == 2, "the failed re-register's notice", 15)
    assert notices(d)[0] == ("Re-registering failed: RPC call to mip4/reregister failed with ubus code 9: "
                             "Unspecified error")
    shot(d, "status-error")
    mip4_ubus.failing = set()
    until(d, lambda: not shown(d, "mip4-error") and not shown(d, "mip4-log-error"), "recovery", 15)
    d.find_element("id", "mip4-reregister").click()  # the page still works
    until(d, lambda: notices(d)[0] == "Re-registering on wwan", "the re-register notice", 15)


# -- the settings view -------------------------------------------------------------------------------------

def test_settings_view_saves_through_rollback_apply_and_refuses_bad_values(ow, browser):
    from selenium.webdriver.common.by import By

    d = browser
    cfg = ow.path("/etc/config/mip4")
    original = cfg.read_text()
    log_in(d, ow, "admin/services/mip4/settings")
    until(d, lambda: d.find_elements(By.CSS_SELECTOR, ".cbi-map .cbi-section"), "the form")

    def sections() -> list[str]:
        return js(d, "return Array.from(document.querySelectorAll('.cbi-map .cbi-section > h3')).map(h => h.innerText)")

    assert sections() == ["General", "Mobile node", "Uplinks"]
    # the theme draws a section title once (a TableSection/TypedSection title, no second copy)
    assert js(d, "return document.querySelectorAll('h2').length") == 1
    # keys and the PSK are password fields
    for opt in ("key", "x_key", "ike_psk"):
        assert d.find_element(By.ID, "widget.cbid.mip4.node." + opt).get_attribute("type") == "password", opt
    assert [r.get_attribute("data-sid") for r in d.find_elements(By.CSS_SELECTOR, "tr.cbi-section-table-row")] == [
        "wan", "wwan", "wlan"]
    # one Save & Apply, LuCI's own in the page footer (the view adds no button of its own)
    assert js(d, "return Array.from(document.querySelectorAll('#maincontent button, #maincontent .cbi-dropdown li'))"
                 ".filter(b => /Save/.test(b.innerText)).map(b => b.innerText)") == ["Save & Apply", "Save"]
    assert "Save & Apply" in js(d, "return document.querySelector('.cbi-page-actions').innerText")

    def tab(name: str) -> None:
        d.find_element(By.CSS_SELECTOR, "li[data-tab=%s] a" % name).click()

    def field(sid: str, opt: str):  # noqa: ANN202
        return d.find_element(By.ID, "widget.cbid.mip4.%s.%s" % (sid, opt))

    def retype(sid: str, opt: str, value: str) -> None:
        f = field(sid, opt)
        f.clear()
        f.send_keys(value)
        f.send_keys("\t")

    def invalid(sid: str, opt: str) -> bool:
        return "cbi-input-invalid" in (field(sid, opt).get_attribute("class") or "")

    def save_apply() -> None:
        js(d, "window.mip4Page = true")  # gone once LuCI reloads the page after an apply
        d.find_element(By.CSS_SELECTOR, ".cbi-page-actions .cbi-button-apply li[display]").click()

    def applied() -> None:
        """LuCI's rollback apply confirmed ("Configuration changes applied."), then the page reloaded."""
        # LuCI's rollback window is 90 s (L.env.apply_rollback); a loaded machine may take most of it
        until(d, lambda: "Configuration changes applied." in text(d, "modal_overlay"), "LuCI confirming the apply", 90)
        shot(d, "settings-applied")
        until(d, lambda: js(d, "return window.mip4Page") is None and d.find_elements(By.CSS_SELECTOR, ".cbi-map"),
              "the page reloaded after the apply", 30)

    # a bad value is marked and refused: nothing is saved, staged or applied
    tab("imip")
    retype("node", "home_agent", "10.1.0")
    assert invalid("node", "home_agent")
    tab("timing")
    retype("node", "t_monitor", "1")  # below limits.py's 2 s
    assert invalid("node", "t_monitor")
    retype("node", "t_monitor", "61")
    assert not invalid("node", "t_monitor")
    retype("node", "t_monitor_grace", "61")  # N must stay below T_MONITOR
    assert invalid("node", "t_monitor_grace")
    retype("node", "t_monitor_grace", "9")
    tab("xmip")
    retype("node", "x_key", "6C61622D692D68612D6B65792D6D6F62696C652D726F75746572")  # the i-HA key again
    assert invalid("node", "x_key")
    retype("node", "x_key", "00112233445566778899aabbccddeeff")
    save_apply()
    refused = 'Option "Internal home agent (i-HA)" contains an invalid input value'
    until(d, lambda: refused in text(d, "modal_overlay"), "LuCI refusing the form")
    # the tab with the bad value is marked
    assert d.find_element(By.CSS_SELECTOR, "li[data-tab=imip]").get_attribute("data-errors") == "1"
    shot(d, "settings-invalid")
    d.find_element(By.CSS_SELECTOR, "#modal_overlay button").click()  # Dismiss
    assert cfg.read_text() == original
    assert json.loads(ow.sh("ubus call uci changes '{\"config\": \"mip4\"}'").stdout) == {"changes": []}

    # corrected, with an uplink's hold-down and the PSK changed: Save & Apply through the rollback apply
    tab("imip")
    retype("node", "home_agent", "10.1.0.2")
    assert not invalid("node", "home_agent")
    tab("vpn")
    retype("node", "ike_psk", "short")
    assert invalid("node", "ike_psk")
    retype("node", "ike_psk", "a-new-long-random-secret")
    retype("wan", "hold_down", "7")
    shot(d, "settings-edited")
    save_apply()
    applied()
    saved = cfg.read_text()
    for line in ("option home_agent '10.1.0.2'", "option t_monitor '61'", "option t_monitor_grace '9'",
                 "option x_key '00112233445566778899aabbccddeeff'", "option ike_psk 'a-new-long-random-secret'",
                 "option hold_down '7'"):
        assert line in saved, line
    assert json.loads(ow.sh("ubus call uci changes '{\"config\": \"mip4\"}'").stdout) == {"changes": []}
    # what mip4d will load: the file checks
    ow.sh("python3 -m mip4 config check /etc/config/mip4")

    # another role: its sections, once it is applied (the page reloads after LuCI's apply)
    from selenium.webdriver.support.ui import Select

    Select(field("global", "role")).select_by_value("ha")
    save_apply()
    applied()
    until(d, lambda: sections() == ["General", "Home agent", "Mobile nodes"], "the home agent's sections", 60)
    assert "option role 'ha'" in cfg.read_text()
    assert d.find_elements(By.CSS_SELECTOR, ".cbi-section[id$=home_agent] .cbi-section-create")  # none yet: Add
    ow.sh("uci set mip4.global.role=fa && uci commit mip4")
    d.refresh()
    until(d, lambda: sections() == ["General", "Foreign agent", "Access links"], "the foreign agent's sections")


# -- no browser: the form covers the schema, with its limits; the translation template ------------------------

def _js_options() -> dict[tuple[str, str], str]:
    """(section type, option) -> the JS text of its option(...) call in settings.js, with the helper that
    wraps it (`key(option(...), 16)`) in front."""
    src = (VIEWS / "settings.js").read_text()
    kinds = {"render": "mip4", "mobileNode": "mobile_node", "uplinks": "uplink", "homeAgent": "home_agent",
             "bindings": "binding", "foreignAgent": "foreign_agent", "accessLinks": "access_link"}
    out = {}
    for part in re.split(r"\n\t(?=\w+: function)", src):
        fn = re.match(r"(\w+): function", part)
        if not fn or fn.group(1) not in kinds:
            continue
        for call in re.finditer(r"(\w+\()?option\(s, \S+, form\.\w+, '(\w+)'.*(?:\n\t\t\t.*)*", part):
            out[kinds[fn.group(1)], call.group(2)] = call.group(0)
    return out


SKIPPED = {("mip4", "seed")}  # the simulator's seed, for tests only


def _refuses(conv, value: str) -> bool:  # noqa: ANN001
    try:
        conv(value)
    except schema.BadValue:
        return True
    return False


def test_settings_form_has_every_option_of_every_section_type_with_the_limits_of_the_daemon():
    got, src = _js_options(), (VIEWS / "settings.js").read_text()
    want = {(kind, opt) for kind, opts in schema.SECTIONS.items() for opt in opts} - SKIPPED
    assert want <= set(got), sorted(want - set(got))
    for (kind, opt), call in sorted(got.items()):
        conv, where = schema.SECTIONS[kind][opt].conv, (kind, opt, call)
        if conv is schema.address:
            assert "'ip4addr(\"nomask\")'" in call, where
        elif conv is schema.prefix:
            assert "form.DynamicList" in call and "'cidr4'" in call, where
        elif conv is schema.hexkey:
            assert call.startswith("key("), where  # hexstring, a password field
        elif conv is schema.ifname:
            assert "'netdevname'" in call, where
        elif conv is schema.boolean:
            assert "form.Flag" in call, where
        elif conv is schema.client_url:
            assert re.search(r"'%s'.*\n(?:\t\t.*\n){0,2}\t\to\.validate = clientUrl;" % opt, src), where
        elif conv is schema.path:
            assert re.search(r"'%s'.*\n(?:\t\t.*\n){0,2}\t\to\.validate = absolutePath;" % opt, src), where
        elif "form.ListValue" in call:
            assert _refuses(conv, "no-such-choice"), where
        elif "SPI" in call or re.search(r"\b(seconds|integer)\(", call):
            # a number: the form's range accepts and refuses what the daemon's check does (limits.py)
            m = re.search(r"\b(seconds|integer)\(([\d.]+), ([\d.]+)\)", call)
            integral, lo, hi = (m.group(1) == "integer", m.group(2), m.group(3)) if m else (True, "256", "4294967295")
            assert not _refuses(conv, lo) and not _refuses(conv, hi), where
            step = 1 if integral else 0.01
            for bad in (float(lo) - step, float(hi) + step):
                if bad >= 0:
                    assert _refuses(conv, str(int(bad)) if integral else "%.2f" % bad), (bad, where)
            assert _refuses(conv, "%g" % (float(lo) + 0.5)) == integral, where

        else:
            assert conv is schema.text or kind == "mip4", where
    assert re.search(r"'ike_psk'[^;]*;\n\t\to\.password = true;", src)


def _js_strings(src: str) -> set[str]:
    """The first argument of every _('...') in a LuCI JS source, unescaped as xgettext reads it."""
    out = set()
    for m in re.finditer(r"(?<![\w.])_\(\s*('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")", src):
        out.add(ast.literal_eval(m.group(1)))
    return out


def _pot_ids(pot: str) -> set[str]:
    ids = set()
    for m in re.finditer(r'^msgid ((?:"(?:[^"\\]|\\.)*"\n?)+)', pot, re.M):
        s = "".join(ast.literal_eval(x) for x in re.findall(r'"(?:[^"\\]|\\.)*"', m.group(1)))
        if s:
            ids.add(s)
    return ids


def test_translation_template_has_every_string_of_the_app():
    want = set()
    for js_file in VIEWS.glob("*.js"):
        want |= _js_strings(js_file.read_text())
    for node in json.loads((APP / "root/usr/share/luci/menu.d/luci-app-mip4.json").read_text()).values():
        want.add(node["title"])
    for group in json.loads((APP / "root/usr/share/rpcd/acl.d/luci-app-mip4.json").read_text()).values():
        want.add(group["description"])
    assert len(want) > 100
    got = _pot_ids(POT.read_text())
    assert want - got == set(), "missing from mip4.pot (luci-app/po/update-pot): %s" % sorted(want - got)
    assert got - want == set(), "stale in mip4.pot: %s" % sorted(got - want)


# -- the whole chain: LuCI's Save & Apply into the running mip4d ---------------------------------------------

def test_save_and_apply_in_luci_reaches_the_running_mip4d_through_procd(ow, browser):
    """The real chain with no stand-in: procd runs mip4d through its init script; T_MONITOR edited in the
    settings view goes through LuCI's rollback apply (rpcd: uci commit, reload_config's config.change),
    procd's reload trigger and mip4d's SIGHUP into the same running process."""
    from selenium.webdriver.common.by import By

    from tests.router.test_owrt_mip4d import instance, start, status, uplinks

    d = browser
    uplinks(ow)
    pid = start(ow)
    assert status(ow)["status"]["t_monitor"] == 60
    try:
        log_in(d, ow, "admin/services/mip4/settings")
        until(d, lambda: d.find_elements(By.CSS_SELECTOR, ".cbi-map .cbi-section"), "the form")
        d.find_element(By.CSS_SELECTOR, "li[data-tab=timing] a").click()
        f = d.find_element(By.ID, "widget.cbid.mip4.node.t_monitor")
        f.clear()
        f.send_keys("61\t")
        d.find_element(By.CSS_SELECTOR, ".cbi-page-actions .cbi-button-apply li[display]").click()
        until(d, lambda: "Configuration changes applied." in text(d, "modal_overlay"), "LuCI confirming the apply", 90)
        ow.wait_for(lambda: status(ow).get("status", {}).get("t_monitor") == 61, "mip4d with t_monitor 61", 30)
        assert status(ow)["pid"] == pid == instance(ow)["pid"]  # reloaded, not restarted
        shot(d, "settings-applied-to-mip4d")
    finally:
        ow.sh("/etc/init.d/mip4 stop", check=False)

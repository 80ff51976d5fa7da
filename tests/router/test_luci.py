"""The LuCI page in real headless Chromium (selenium + Debian's chromium/chromedriver), served with the LuCI
runtime stand-in (tests/router/luci/) and answering ubus JSON-RPC from a running status model: the router
moves from the intranet to outside while the page is open. Checks what a person sees; keeps a screenshot
in tests/artifacts/."""
from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from .live import LiveNode
from .luci.server import LuciServer

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests/artifacts"
EXAMPLE = ROOT / "build/package/mip4/files/etc/config/mip4"


def wait_for(driver, fn, what: str, limit: float = 20.0):  # noqa: ANN001, ANN201
    end = time.monotonic() + limit
    while True:
        got = fn()
        if got:
            return got
        if time.monotonic() > end:
            error = driver.find_elements(By.ID, "view-error")
            raise AssertionError("page never showed %s%s" % (what, ": " + error[0].text if error else ""))
        time.sleep(0.1)


@pytest.fixture
def page(tmp_path):
    node = LiveNode(speed=1.0)
    node.do(node.w.connect, "wan", "lan1", "10.2.0.5")
    node.run(5)
    uci_file = tmp_path / "mip4"
    shutil.copy(EXAMPLE, uci_file)
    server = LuciServer(node, uci_file)
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1800"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=opts)
    try:
        driver.get(server.url)
        yield driver, node, server, uci_file
    finally:
        driver.quit()
        server.close()


def text(driver, element_id: str) -> str:  # noqa: ANN001
    return driver.execute_script("var e = document.getElementById(arguments[0]); return e ? e.innerText : ''",
                                 element_id)


READ = """
var t = function(id) { var e = document.getElementById(id); return e ? e.innerText : ''; };
var out = {mode: t('mip4-mode'), mode_text: t('mip4-mode-text'), verdict: t('mip4-verdict'),
           reason: t('mip4-reason'), ike: t('mip4-ike'), child: t('mip4-child'), tmonitor: t('mip4-tmonitor'),
           uplinks: {}, handoffs: []};
document.querySelectorAll('tr.mip4-uplink').forEach(function(r) {
    var c = function(k) { return r.querySelector('.' + k).innerText; }, regs = {};
    r.querySelectorAll('.mip4-reg').forEach(function(g) {
        regs[g.dataset.agent] = {label: g.querySelector('.mip4-reg-label').innerText,
                                 width: parseFloat(g.querySelector('.cbi-progressbar > div').style.width)};
    });
    out.uplinks[r.dataset.uplink] = {coa: c('mip4-coa'), network: c('mip4-network'), gate: c('mip4-gate'),
                                     state: c('mip4-state'), tmon: c('mip4-tmon'), regs: regs};
});
document.querySelectorAll('.mip4-handoff').forEach(function(h) { out.handoffs.push(h.innerText); });
return out;
"""


def seen(driver) -> dict:  # noqa: ANN001
    """What the page shows now, read in one go (it re-renders every second)."""
    return driver.execute_script(READ)


def test_status_page_live_and_config_form(page):
    driver, node, server, uci_file = page
    wait_for(driver, lambda: seen(driver)["mode"] == "c", "mode c")
    s = seen(driver)
    assert s["mode_text"] == "inside, co-located care-of (c)"
    assert s["verdict"] == "inside" and "-> inside (i-ha-tnc)" in s["reason"]
    assert s["ike"] == "down" and s["child"] == "down" and s["tmonitor"].startswith("next proof due in ")
    wan = s["uplinks"]["wan"]
    assert (wan["coa"], wan["network"], wan["gate"], wan["state"]) == ("10.2.0.5", "wan", "plain", "inside")
    assert wan["regs"]["i-ha"]["label"].startswith("i-ha ") and wan["regs"]["i-ha"]["label"].endswith(" / 1800 s")
    assert 90 <= wan["regs"]["i-ha"]["width"] <= 100

    countdown = wan["tmon"]  # T_MONITOR counts down, live
    wait_for(driver, lambda: seen(driver)["uplinks"]["wan"]["tmon"] not in ("", countdown),
             "the T_MONITOR countdown moving")

    # the router drives out of the intranet onto an external network, while the page is open
    node.do(node.w.disconnect, "wan")
    node.do(node.w.connect, "wwan", "ext1", "198.18.0.5")
    wait_for(driver, lambda: seen(driver)["mode"] == "cvc", "mode cvc", limit=30)
    s = seen(driver)
    assert s["verdict"] == "outside" and s["ike"] == "up" and s["child"] == "up"
    assert s["uplinks"]["wwan"]["coa"] == "198.18.0.5" and s["uplinks"]["wan"]["state"] == "down"
    wait_for(driver, lambda: seen(driver)["uplinks"]["wwan"]["regs"].get("vpn", {}).get("width", 0) > 90,
             "the i-MIP registration through the VPN")
    assert seen(driver)["uplinks"]["wwan"]["regs"]["x-ha"]["label"].endswith(" / 1800 s")
    assert "wan/c \u2192 wwan/cvc, no data for" in s["handoffs"][0] and "none \u2192 wan/c" in s["handoffs"][-1]

    driver.find_element(By.ID, "mip4-reregister").click()
    wait_for(driver, lambda: "Re-registering on wwan" in text(driver, "notifications"), "the re-register notice")
    assert ("mip4", "reregister") in server.calls

    # the settings form checks values as they are typed
    def field(name: str):  # noqa: ANN202
        return driver.find_element(By.ID, "mip4-opt-" + name)

    def retype(name: str, value: str) -> None:
        """Clear the option's input and type `value`, as a person would."""
        field(name).clear()
        field(name).send_keys(value)

    save = driver.find_element(By.ID, "mip4-save")
    assert field("home_agent").get_attribute("value") == "10.1.0.1" and save.is_enabled()
    retype("home_agent", "10.1.0")
    assert text(driver, "mip4-err-home_agent") == "an IPv4 address, e.g. 10.1.0.1" and not save.is_enabled()
    field("home_agent").send_keys(".2")
    assert text(driver, "mip4-err-home_agent") == "" and save.is_enabled()
    retype("t_monitor_grace", "90")
    assert text(driver, "mip4-err-t_monitor_grace") == "must be below T_MONITOR (60)" and not save.is_enabled()
    retype("key", "00112233")
    assert text(driver, "mip4-err-key") == "at least 16 octets (RFC 5265 6.2)"
    retype("key", "6c61622d692d68612d6b65792d6d6f62696c652d726f75746572")
    retype("x_key", "6C61622D692D68612D6B65792D6D6F62696C652D726F75746572")  # the i-HA key again
    assert text(driver, "mip4-err-x_key") == "must differ from the i-HA key (RFC 5265 6.2)"
    retype("key", "00112233445566778899aabbccddeeff")
    assert text(driver, "mip4-err-x_key") == ""
    retype("t_monitor", "30")
    retype("t_monitor_grace", "5")
    assert save.is_enabled()
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / "luci-mip4.png"))
    save.click()
    wait_for(driver, lambda: "Saved; mip4d reloads it." in text(driver, "notifications"), "the saved notice")
    saved = uci_file.read_text()
    assert "option t_monitor '30'" in saved and "option home_agent '10.1.0.2'" in saved
    p = subprocess.run([sys.executable, "-m", "mip4", "config", "check", str(uci_file)], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0 and "i-HA 10.1.0.2" in p.stdout and "T_MONITOR 30 s" in p.stdout


def test_the_rpcd_acl_is_enforced(tmp_path):
    """The stand-in server denies what luci-app-mip4's ACL does not grant, as rpcd would."""
    shutil.copy(EXAMPLE, tmp_path / "mip4")
    server = LuciServer(object(), tmp_path / "mip4")
    try:
        assert server.allowed("mip4", "status", {}) and server.allowed("mip4", "reregister", {})
        assert not server.allowed("mip4", "shutdown", {}) and not server.allowed("network", "restart", {})
        assert server.allowed("uci", "get", {"config": "mip4"}) and not server.allowed("uci", "get",
                                                                                      {"config": "network"})
    finally:
        server.close()

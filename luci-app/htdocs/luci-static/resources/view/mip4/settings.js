'use strict';
'require view';
'require form';
'require uci';

/*
 * mip4 settings (Services > Mobile IP > Settings): /etc/config/mip4 through LuCI's form.Map, every section
 * type mip4d reads (mip4/uci/schema.py). Values are checked with LuCI's datatypes, in the ranges of
 * mip4/core/limits.py; Save & Apply goes through LuCI's rollback apply, and procd's reload trigger hands
 * the new file to mip4d (SIGHUP).
 */

/* the section types each role reads, besides the `mip4` section (schema.py ROLE_SECTIONS) */
var ROLE_SECTIONS = { mn: [ 'mobile_node', 'uplink' ], ha: [ 'home_agent', 'binding' ], fa: [ 'foreign_agent', 'access_link' ] };

var SPI = 'and(uinteger,range(256,4294967295))'; /* RFC 5944 1.6: SPIs 0..255 are reserved */

function seconds(lo, hi) {
	return 'and(ufloat,range(%s,%s))'.format(lo, hi);
}

function integer(lo, hi) {
	return 'and(uinteger,range(%s,%s))'.format(lo, hi);
}

function option(s, tab, type, name, title, description, datatype) {
	var o = tab ? s.taboption(tab, type, name, title, description) : s.option(type, name, title, description);
	if (datatype)
		o.datatype = datatype;
	return o;
}

function required(o) {
	o.rmempty = false;
	return o;
}

/* a key shared with a home agent: hex octets, shown as a password field */
function key(o, minOctets) {
	o.password = true;
	o.datatype = minOctets ? 'and(hexstring,minlength(%d))'.format(2 * minOctets) : 'hexstring';
	return required(o);
}

/* the one section of a type only one of may exist (schema.py SINGLE): an Add button while there is none */
function single(m, type, title) {
	var s = m.section(form.TypedSection, type, title);
	s.anonymous = true;
	s.addremove = uci.sections('mip4', type).length == 0;
	return s;
}

/* an etcd client URL (mip4/uci/schema.py client_url): scheme, host and port, nothing after */
function clientUrl(section_id, value) {
	return (value == null || value === '' || /^https?:\/\/[^\/\s]+$/.test(value)) ? true
		: _('Expecting an etcd client URL, e.g. http://10.1.0.5:2379');
}

function absolutePath(section_id, value) {
	return (value == null || value === '' || value.charAt(0) === '/') ? true : _('Expecting an absolute path');
}

return view.extend({
	load: function() {
		return uci.load('mip4');
	},

	render: function() {
		var m, s, o, role = uci.get_first('mip4', 'mip4', 'role') || 'mn', shown = ROLE_SECTIONS[role] || [];

		m = new form.Map('mip4', _('Mobile IP'),
			_('Settings of mip4 (RFC 5265 mobility across IPsec VPN gateways), in /etc/config/mip4. Save & Apply hands them to the running mip4d.'));

		/* -- the mip4 section: what every role has ------------------------------------------------------ */
		s = m.section(form.TypedSection, 'mip4', _('General'));
		s.anonymous = true;

		o = option(s, null, form.Flag, 'enabled', _('Enabled'), _('Start mip4d at boot'));
		o.default = o.enabled;
		o.rmempty = false;

		o = required(option(s, null, form.ListValue, 'role', _('Role'),
			_('The sections of another role appear here once it is saved.')));
		o.value('mn', _('Mobile node / mobile router'));
		o.value('ha', _('Home agent'));
		o.value('fa', _('Foreign agent'));

		o = option(s, null, form.ListValue, 'log_level', _('Log level'));
		[ 'debug', 'info', 'warning', 'error' ].forEach(function(l) { o.value(l); });
		o.default = 'info';

		o = option(s, null, form.Value, 'status_file', _('Status file'));
		o.placeholder = '/var/run/mip4/status.json';
		o.validate = absolutePath;
		o = option(s, null, form.Value, 'control_socket', _('Control socket'),
			_('Unix socket for mip4 status, ubus and the console'));
		o.placeholder = '/var/run/mip4/control.sock';
		o.validate = absolutePath;

		if (shown.indexOf('mobile_node') >= 0) {
			this.mobileNode(m);
			this.uplinks(m);
		}
		if (shown.indexOf('home_agent') >= 0) {
			this.homeAgent(m);
			this.bindings(m);
		}
		if (shown.indexOf('foreign_agent') >= 0) {
			this.foreignAgent(m);
			this.accessLinks(m);
		}

		return m.render();
	},

	/* -- mobile node (RFC 5265 4.1) ------------------------------------------------------------------- */
	mobileNode: function(m) {
		var s, o;

		s = single(m, 'mobile_node', _('Mobile node'));

		s.tab('imip', _('Intranet (i-MIP)'));
		s.tab('xmip', _('External (x-MIP)'));
		s.tab('vpn', _('VPN (IKEv2)'));
		s.tab('timing', _('Timing'));
		s.tab('router', _('Mobile router'));

		required(option(s, 'imip', form.Value, 'home_address', _('Home address (i-HoA)'),
			_('The intranet home address'), 'ip4addr("nomask")'));
		required(option(s, 'imip', form.Value, 'home_agent', _('Internal home agent (i-HA)'), null,
			'ip4addr("nomask")'));
		required(option(s, 'imip', form.Value, 'spi', _('SPI'), _('MN-HA SPI with the i-HA'), SPI));
		key(option(s, 'imip', form.Value, 'key', _('Key'),
			_('MN-HA key with the i-HA in hex, at least 16 random octets: whoever holds it can prove "inside" (RFC 5265 6.2)')), 16);
		option(s, 'imip', form.Flag, 'reverse_tunnel_i', _('Reverse tunnelling'));

		required(option(s, 'xmip', form.Value, 'x_home_address', _('Home address (x-HoA)'),
			_('The external home address'), 'ip4addr("nomask")'));
		required(option(s, 'xmip', form.Value, 'x_home_agent', _('External home agent (x-HA)'), null,
			'ip4addr("nomask")'));
		required(option(s, 'xmip', form.Value, 'x_spi', _('SPI'), _('MN-HA SPI with the x-HA'), SPI));
		o = key(option(s, 'xmip', form.Value, 'x_key', _('Key'),
			_('MN-HA key with the x-HA in hex; must differ from the i-HA key (RFC 5265 6.2)')));
		o.validate = function(section_id, value) {
			var ikey = this.section.formvalue(section_id, 'key');
			return (value && ikey && value.toLowerCase() === ikey.toLowerCase())
				? _('Must differ from the i-HA key (RFC 5265 6.2)') : true;
		};
		option(s, 'xmip', form.Flag, 'reverse_tunnel_x', _('Reverse tunnelling'));
		o = option(s, 'xmip', form.Flag, 'nat_traversal', _('NAT traversal'),
			_('Ask for RFC 3519 UDP tunnelling (used only when the home agent sees a NAT)'));
		o.default = o.enabled;
		o = option(s, 'xmip', form.Value, 'udp_keepalive', _('UDP keepalive (s)'),
			_('Behind a NAT, keepalives at least this often; 0: as the home agent says'), integer(0, 65535));
		o.placeholder = '0';

		required(option(s, 'vpn', form.Value, 'vpn_gateway', _('VPN gateway'), null, 'ip4addr("nomask")'));
		o = option(s, 'vpn', form.Value, 'ike_identity', _('IKE identity'), _('Our IKE identity (IDi), e.g. mr1@example.com'));
		o.datatype = 'and(string,minlength(1))';
		o = option(s, 'vpn', form.Value, 'ike_remote_identity', _('Remote IKE identity'), _('The VPN gateway\'s identity (IDr)'));
		o.datatype = 'and(string,minlength(1))';
		o = option(s, 'vpn', form.Value, 'ike_psk', _('Pre-shared key'), _('IKEv2 pre-shared key, at least 16 characters'),
			'minlength(16)');
		o.password = true;
		o = option(s, 'vpn', form.DynamicList, 'intranet', _('Intranet'),
			_('What the VPN reaches (remote traffic selectors)'), 'cidr4');
		o = option(s, 'vpn', form.Value, 'vici_socket', _('VICI socket'), _('Where charon listens'));
		o.placeholder = 'unix:///var/run/charon.vici';

		/* numeric ranges: mip4/core/limits.py */
		o = option(s, 'timing', form.Value, 't_monitor', _('T_MONITOR (s)'),
			_('Re-register inside at least this often; data is blocked after it (RFC 5265 3.2.4)'), seconds(2, 86400));
		o.placeholder = '60';
		o = option(s, 'timing', form.Value, 't_monitor_grace', _('T_MONITOR grace N (s)'),
			_('Re-register at T_MONITOR - N'), seconds(0, 86399));
		o.placeholder = '10';
		o.validate = function(section_id, value) {
			var t = this.section.formvalue(section_id, 't_monitor') || '60';
			return (value === '' || value == null || +value < +t) ? true : _('Must be below T_MONITOR (%s)').format(t);
		};
		o = option(s, 'timing', form.Value, 'detection_period', _('Detection period (s)'),
			_('How long the i-HA may still answer (RFC 5265 3.3)'), seconds(0, 300));
		o.placeholder = '2';
		option(s, 'timing', form.Flag, 'postpone_ike', _('Postpone IKE'),
			_('Start a new IKE SA only after the detection period (RFC 5265 3.3); by default IKE starts on the x-HA\'s reply'));
		o = option(s, 'timing', form.Value, 'hold_down', _('Hold-down (s)'),
			_('An uplink that came back carries traffic again only after staying up this long; an uplink may set its own'),
			seconds(0, 3600));
		o.placeholder = '10';
		o = option(s, 'timing', form.Value, 'lifetime', _('Registration lifetime (s)'), null, integer(1, 65535));
		o.placeholder = '1800';
		o = option(s, 'timing', form.Value, 'retransmit_initial', _('First retransmission (s)'), null, seconds(0.1, 60));
		o = option(s, 'timing', form.Value, 'retransmit_max', _('Longest retransmission (s)'), null, seconds(1, 3600));

		option(s, 'router', form.DynamicList, 'network', _('Networks'), _('LAN prefixes behind the mobile router'), 'cidr4');
		option(s, 'router', form.Flag, 'dhcp', _('DHCP on uplinks'), _('Run udhcpc on each uplink (off when netifd runs DHCP)'));
		option(s, 'router', form.Flag, 'idle_mode', _('Idle mode'));
		option(s, 'router', form.Value, 'nai', _('NAI'), _('Network access identifier (RFC 2794)'));
	},

	uplinks: function(m) {
		var s, o;

		s = m.section(form.TableSection, 'uplink', _('Uplinks'),
			_('The section name is the netifd interface. Every uplink registers; the best one that is up carries traffic (lower priority wins).'));
		s.anonymous = false;
		s.addremove = true;
		s.sortable = true;

		o = option(s, null, form.Value, 'device', _('Device'), null, 'netdevname');
		o.placeholder = _('as the name');
		o = required(option(s, null, form.Value, 'priority', _('Priority'), null, integer(0, 1000)));
		o = option(s, null, form.Value, 'hold_down', _('Hold-down (s)'), null, seconds(0, 3600));
		o.placeholder = _('the node\'s');
	},

	/* -- home agent (RFC 5944 3.8, RFC 5265 4.2) --------------------------------------------------------- */
	homeAgent: function(m) {
		var s, o;

		s = single(m, 'home_agent', _('Home agent'));

		required(option(s, null, form.Value, 'address', _('Address'), null, 'ip4addr("nomask")'));
		o = required(option(s, null, form.ListValue, 'type', _('Type')));
		o.value('i-ha', _('Internal home agent (i-HA)'));
		o.value('x-ha', _('External home agent (x-HA)'));
		option(s, null, form.Value, 'home_iface', _('Home interface'), null, 'netdevname');
		option(s, null, form.DynamicList, 'trusted_network', _('Trusted networks'), _('i-HA only (RFC 5265 4.3)'), 'cidr4');
		option(s, null, form.DynamicList, 'ignored_source', _('Ignored sources'), _('x-HA only (RFC 5265 3.7)'), 'cidr4');
		option(s, null, form.DynamicList, 'vpn_pool', _('VPN pool'), _('i-HA only: the VPN gateway\'s pool of VPN-TIAs'), 'cidr4');
		option(s, null, form.DynamicList, 'vpn_snat', _('VPN source NAT'),
			_('i-HA only: addresses the VPN gateway source-NATs VPN-TIAs to (RFC 5265 2.5)'), 'cidr4');
		option(s, null, form.Flag, 'send_tnc', _('Send TNC'));
		option(s, null, form.Value, 'max_lifetime', _('Longest lifetime (s)'), null, integer(1, 65535));
		option(s, null, form.Value, 'max_bindings', _('Bindings per home address'), null, integer(1, 64));
		o = option(s, null, form.Value, 'udp_keepalive', _('UDP keepalive (s)'), _('For mobile nodes behind a NAT (RFC 3519)'),
			integer(0, 65535));
		o.placeholder = '110';
		o = option(s, null, form.Value, 'rate_limit', _('Rate limit'),
			_('Registration requests a second from one source address; 0: no limit'), seconds(0, 1000000));
		o.placeholder = '100';
		o = option(s, null, form.Value, 'rate_burst', _('Rate burst'), _('Requests one source may send at once'),
			integer(1, 1000000));
		o.placeholder = '200';
		o = option(s, null, form.DynamicList, 'store_endpoint', _('Binding store'),
			_('A redundant pair: the etcd client URLs that hold the bindings; none: bindings in memory only'));
		o.validate = clientUrl;
		option(s, null, form.Flag, 'start_standby', _('Start as standby'),
			_('With a binding store: serve nobody until keepalived makes this home agent active (mip4 ha active)'));
		o = option(s, null, form.Value, 'vrrp_fifo', _('keepalived FIFO'),
			_('keepalived\'s notify_fifo: this home agent follows its MASTER, BACKUP and FAULT lines'));
		o.placeholder = '/var/run/mip4/vrrp.fifo';
		o.validate = absolutePath;
		o = option(s, null, form.Value, 'vrrp_instance', _('VRRP instance'),
			_('With the FIFO: the vrrp_instance (or sync group) whose states count; empty: every instance'),
			'and(string,minlength(1))');
	},

	bindings: function(m) {
		var s;

		s = m.section(form.GridSection, 'binding', _('Mobile nodes'), _('The mobile nodes this home agent serves'));
		s.anonymous = true;
		s.addremove = true;

		required(option(s, null, form.Value, 'home_address', _('Home address'), null, 'ip4addr("nomask")'));
		required(option(s, null, form.Value, 'spi', _('SPI'), null, SPI));
		key(option(s, null, form.Value, 'key', _('Key'), _('MN-HA key in hex'))).modalonly = true;
		option(s, null, form.DynamicList, 'network', _('Networks'), null, 'cidr4');
		option(s, null, form.Value, 'max_lifetime', _('Longest lifetime (s)'), null, integer(1, 65535));
	},

	/* -- foreign agent (RFC 5944 3.7) ------------------------------------------------------------------- */
	foreignAgent: function(m) {
		var s, o;

		s = single(m, 'foreign_agent', _('Foreign agent'));

		option(s, null, form.Value, 'address', _('Address'), null, 'ip4addr("nomask")');
		option(s, null, form.Value, 'core_iface', _('Core interface'), null, 'netdevname');
		o = option(s, null, form.Value, 'advertisement_interval', _('Advertisement interval (s)'),
			_('RFC 5944 2.3.1; the advertised lifetime is 3 times this'), seconds(1, 1800));
		o.placeholder = '3';
		option(s, null, form.Value, 'registration_lifetime', _('Registration lifetime (s)'), null, integer(1, 65534));
		option(s, null, form.Flag, 'reverse_tunnel', _('Reverse tunnelling'));
		option(s, null, form.Flag, 'nat_traversal', _('NAT traversal'),
			_('Behind a NAT: ask home agents for RFC 3519 UDP tunnelling of our visitors'));
		o = option(s, null, form.Value, 'udp_keepalive', _('UDP keepalive (s)'),
			_('Behind a NAT, keepalives at least this often; 0: as the home agent says'), integer(0, 65535));
		o.placeholder = '0';
		o = option(s, null, form.Value, 'rate_limit', _('Rate limit'),
			_('Registration requests a second from one source on an access link; 0: no limit'), seconds(0, 1000000));
		o.placeholder = '10';
		o = option(s, null, form.Value, 'rate_burst', _('Rate burst'), _('Requests one source may send at once'),
			integer(1, 1000000));
		o.placeholder = '20';
	},

	accessLinks: function(m) {
		var s;

		s = m.section(form.TableSection, 'access_link', _('Access links'), _('Where visitors attach'));
		s.anonymous = true;
		s.addremove = true;

		required(option(s, null, form.Value, 'device', _('Device'), null, 'netdevname'));
		required(option(s, null, form.Value, 'care_of', _('Care-of address'), null, 'ip4addr("nomask")'));
	}
});

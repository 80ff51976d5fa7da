'use strict';
'require view';
'require rpc';
'require poll';
'require uci';
'require ui';

/*
 * mip4 status and settings (Services > Mobile IP). Everything shown comes from the ubus object `mip4`
 * (mip4d's status model) and refreshes every second; the form edits /etc/config/mip4 and checks each
 * value as it is typed, with the rules mip4d applies on load (mip4/uci/schema.py).
 */

var callStatus = rpc.declare({ object: 'mip4', method: 'status', expect: { status: {} } });
var callReregister = rpc.declare({ object: 'mip4', method: 'reregister', expect: { reregistered: [] } });

var MODES = {
	c: _('inside, co-located care-of (c)'), f: _('inside, through a foreign agent (f)'),
	cvc: _('outside, VPN, co-located (cvc)'), fvc: _('outside, VPN, foreign agent (fvc)'), home: _('at home')
};

function isIPv4(v) {
	var m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(v);
	return !!m && m.slice(1).every(function(x) { return +x <= 255 && String(+x) === x; });
}
function isPrefix(v) {
	var p = v.split('/');
	return p.length === 2 && isIPv4(p[0]) && /^\d+$/.test(p[1]) && +p[1] <= 32;
}
function intIn(lo, hi) {
	return function(v) {
		return /^\d+$/.test(v) && +v >= lo && +v <= hi ? true : _('an integer %d..%d').replace('%d', lo).replace('%d', hi);
	};
}
function seconds(v) {
	return /^\d+(\.\d+)?$/.test(v) && +v > 0 ? true : _('a number of seconds above 0, e.g. 60 or 2.5');
}
function address(v) { return isIPv4(v) ? true : _('an IPv4 address, e.g. 10.1.0.1'); }
function hexkey(min) {
	return function(v) {
		if (!/^([0-9a-fA-F]{2})+$/.test(v))
			return _('hex octets, e.g. 00112233445566778899aabbccddeeff');
		return v.length / 2 >= min ? true : _('at least %d octets (RFC 5265 6.2)').replace('%d', min);
	};
}

/* [option, label, validator]; the same names and rules as /etc/config/mip4's mobile_node section */
var NODE_OPTIONS = [
	['home_address', _('Home address (i-HoA)'), address],
	['home_agent', _('Internal home agent (i-HA)'), address],
	['spi', _('i-HA SPI'), intIn(256, 4294967295)],
	['key', _('i-HA key (hex)'), hexkey(16)],
	['x_home_address', _('External home address (x-HoA)'), address],
	['x_home_agent', _('External home agent (x-HA)'), address],
	['x_spi', _('x-HA SPI'), intIn(256, 4294967295)],
	['x_key', _('x-HA key (hex)'), hexkey(1)],
	['vpn_gateway', _('VPN gateway'), address],
	['ike_identity', _('IKE identity'), function(v) { return v === '' || /^\S+$/.test(v) ? true : _('no spaces'); }],
	['t_monitor', _('T_MONITOR (s)'), seconds],
	['t_monitor_grace', _('T_MONITOR grace N (s)'), function(v) {
		return /^\d+(\.\d+)?$/.test(v) ? true : _('a number of seconds, 0 or more');
	}],
	['lifetime', _('Registration lifetime (s)'), intIn(1, 65534)]
];

function fmtSecs(s) { return s == null ? '-' : Math.round(s) + ' s'; }

return view.extend({
	load: function() {
		return Promise.all([callStatus(), uci.load('mip4')]);
	},

	lifetimeBar: function(r) {
		var pct = r.registered && r.lifetime ? Math.max(0, Math.min(100, 100 * r.remaining / r.lifetime)) : 0;
		var label = r.agent + ' ' + (r.registered ? fmtSecs(r.remaining) + ' / ' + r.lifetime + ' s'
			: (r.pending ? _('pending') : _('not registered')));
		return E('div', { 'class': 'mip4-reg', 'data-agent': r.agent }, [
			E('div', { 'class': 'cbi-progressbar', 'title': label },
				E('div', { 'style': 'width:' + pct.toFixed(1) + '%' })),
			E('span', { 'class': 'mip4-reg-label' }, label)
		]);
	},

	networkOf: function(dev, u) {
		var name = dev;
		uci.sections('mip4', 'uplink').forEach(function(s) {
			if ((s.device || s['.name']) === dev)
				name = s['.name'];
		});
		return u.foreign_agent ? name + ' ' + _('via FA %s').replace('%s', u.foreign_agent) : name;
	},

	renderStatus: function(s) {
		var self = this, primary = (s.interfaces || {})[s.primary] || null;
		var rows = Object.keys(s.interfaces || {}).sort(function(a, b) {
			return s.interfaces[a].priority - s.interfaces[b].priority;
		}).map(function(dev) {
			var u = s.interfaces[dev];
			return E('tr', { 'class': 'tr mip4-uplink', 'data-uplink': dev }, [
				E('td', { 'class': 'td' }, dev + (dev === s.primary ? ' \u2605' : '')),
				E('td', { 'class': 'td mip4-network' }, self.networkOf(dev, u)),
				E('td', { 'class': 'td mip4-state' }, u.state),
				E('td', { 'class': 'td mip4-mode' }, u.mode || '-'),
				E('td', { 'class': 'td mip4-coa' }, u.care_of || '-'),
				E('td', { 'class': 'td mip4-gate' }, u.gate || _('blocked')),
				E('td', { 'class': 'td mip4-tmon' }, fmtSecs(u.t_monitor_left)),
				E('td', { 'class': 'td' }, (u.registrations || []).concat(dev === s.primary ? s.vpn_registrations || [] : [])
					.map(function(r) { return self.lifetimeBar(r); }))
			]);
		});
		var handoffs = (s.handoffs || []).slice().reverse().map(function(h) {
			return E('li', { 'class': 'mip4-handoff' }, [
				E('strong', {}, new Date(h.at * 1000).toLocaleTimeString() + ' '),
				h.from + ' \u2192 ' + h.to + ', ' + _('no data for %s s').replace('%s', h.duration.toFixed(1)),
				h.reason ? E('em', {}, ' (' + h.reason + ')') : ''
			]);
		});
		return E('div', { 'id': 'mip4-status' }, [
			E('div', { 'class': 'cbi-section' }, [
				E('h3', {}, _('Now')),
				E('p', {}, [
					E('span', { 'class': 'mip4-mode-badge', 'id': 'mip4-mode' }, s.mode || '\u2014'), ' ',
					E('span', { 'id': 'mip4-mode-text' }, s.mode ? MODES[s.mode] || s.mode : _('no uplink carries user data'))
				]),
				E('p', {}, [E('strong', {}, _('Verdict') + ': '), E('span', { 'id': 'mip4-verdict' }, s.verdict),
					' \u2014 ', E('span', { 'id': 'mip4-reason' }, s.verdict_reason || '-')]),
				E('p', {}, [E('strong', {}, 'IKE SA: '), E('span', { 'id': 'mip4-ike' }, s.ike),
					', CHILD_SA: ', E('span', { 'id': 'mip4-child' }, s.child_sa),
					s.vpn_tia ? ', VPN-TIA ' + s.vpn_tia : '']),
				E('p', {}, [E('strong', {}, _('T_MONITOR') + ': '), E('span', { 'id': 'mip4-tmonitor' },
					primary && primary.t_monitor_left != null
						? _('next proof due in %s').replace('%s', fmtSecs(primary.t_monitor_left)) + ' / ' + s.t_monitor + ' s'
						: _('not monitoring (outside or no uplink)'))])
			]),
			E('div', { 'class': 'cbi-section' }, [
				E('h3', {}, _('Uplinks')),
				E('table', { 'class': 'table', 'id': 'mip4-uplinks' }, [
					E('tr', { 'class': 'tr table-titles' }, [_('Uplink'), _('Network'), _('State'), _('Mode'),
						_('Care-of address'), _('Gate'), _('T_MONITOR'), _('Registration lifetime')].map(function(t) {
						return E('th', { 'class': 'th' }, t);
					}))
				].concat(rows))
			]),
			E('div', { 'class': 'cbi-section' }, [
				E('h3', {}, _('Handoffs')),
				handoffs.length ? E('ol', { 'id': 'mip4-handoffs' }, handoffs)
					: E('p', { 'id': 'mip4-handoffs' }, _('none yet'))
			])
		]);
	},

	renderForm: function() {
		var fields = NODE_OPTIONS.map(function(o) {
			var input = E('input', { 'class': 'cbi-input-text', 'name': o[0], 'id': 'mip4-opt-' + o[0],
				'value': uci.get('mip4', 'node', o[0]) || '' });
			return E('div', { 'class': 'cbi-value' }, [
				E('label', { 'class': 'cbi-value-title', 'for': 'mip4-opt-' + o[0] }, o[1]),
				E('div', { 'class': 'cbi-value-field' }, [input,
					E('div', { 'class': 'cbi-value-error', 'id': 'mip4-err-' + o[0] })])
			]);
		});
		var form = E('form', { 'id': 'mip4-form', 'class': 'cbi-section' }, [E('h3', {}, _('Settings'))].concat(fields)
			.concat([E('button', { 'class': 'cbi-button cbi-button-save', 'id': 'mip4-save', 'type': 'button',
				'click': ui.createHandlerFn(this, 'handleSave') }, _('Save & Apply'))]));
		form.addEventListener('input', L.bind(this.validate, this));
		return form;
	},

	/* every option on its own, then how they fit together (as mip4d checks them on load) */
	validate: function() {
		var errors = {}, values = {};
		NODE_OPTIONS.forEach(function(o) {
			var v = document.getElementById('mip4-opt-' + o[0]).value.trim();
			values[o[0]] = v;
			var r = (v === '' && o[0] === 'ike_identity') ? true : (v === '' ? _('required') : o[2](v));
			if (r !== true)
				errors[o[0]] = r;
		});
		if (!errors.t_monitor && !errors.t_monitor_grace && +values.t_monitor_grace >= +values.t_monitor)
			errors.t_monitor_grace = _('must be below T_MONITOR (%s)').replace('%s', values.t_monitor);
		if (!errors.key && !errors.x_key && values.key.toLowerCase() === values.x_key.toLowerCase())
			errors.x_key = _('must differ from the i-HA key (RFC 5265 6.2)');
		NODE_OPTIONS.forEach(function(o) {
			var el = document.getElementById('mip4-err-' + o[0]), input = document.getElementById('mip4-opt-' + o[0]);
			el.textContent = errors[o[0]] || '';
			input.classList.toggle('cbi-input-invalid', !!errors[o[0]]);
		});
		document.getElementById('mip4-save').disabled = Object.keys(errors).length > 0;
		return Object.keys(errors).length ? null : values;
	},

	handleSave: function() {
		var values = this.validate();
		if (!values)
			return Promise.resolve();
		NODE_OPTIONS.forEach(function(o) {
			if (values[o[0]] !== (uci.get('mip4', 'node', o[0]) || ''))
				uci.set('mip4', 'node', o[0], values[o[0]]);
		});
		return uci.save().then(function() { return ui.changes.apply(true); }).then(function() {
			ui.addNotification(null, E('p', {}, _('Saved; mip4d reloads it.')), 'info');
		}).catch(function(e) {
			ui.addNotification(null, E('p', {}, _('Not saved: %s').replace('%s', e.message || e)), 'danger');
		});
	},

	handleReregister: function() {
		return callReregister().then(function(ifaces) {
			ui.addNotification(null, E('p', {}, _('Re-registering on %s').replace('%s', ifaces.join(', ') || '-')), 'info');
		});
	},

	render: function(data) {
		var self = this, holder = E('div', { 'id': 'mip4-live' }, this.renderStatus(data[0]));
		poll.add(function() {
			return callStatus().then(function(s) {
				holder.replaceChild(self.renderStatus(s), holder.firstChild);
			});
		}, 1);
		return E('div', {}, [
			E('h2', {}, _('Mobile IP (RFC 5265)')),
			E('div', { 'class': 'cbi-map-descr' }, _('Inside the intranet, Mobile IPv4 in clear; outside, x-MIP, IPsec and i-MIP. Refreshed every second.')),
			E('button', { 'class': 'cbi-button', 'id': 'mip4-reregister',
				'click': ui.createHandlerFn(this, 'handleReregister') }, _('Re-register now')),
			holder,
			this.renderForm()
		]);
	},

	handleSaveApply: null,
	handleReset: null
});

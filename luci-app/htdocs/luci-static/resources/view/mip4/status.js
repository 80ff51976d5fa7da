'use strict';
'require view';
'require dom';
'require poll';
'require rpc';
'require uci';
'require ui';

/*
 * mip4 status (Services > Mobile IP > Status): what mip4d's status model says now, from the ubus object
 * `mip4`, refreshed at LuCI's poll interval. The page is built once; each poll only rewrites the values
 * that are shown (no re-render). A call that fails shows its error and leaves the rest of the page working.
 */

/* reject: a ubus error status rejects the call (without it, LuCI resolves it with the expected default) */
var callStatus = rpc.declare({ object: 'mip4', method: 'status', expect: { '': {} }, reject: true });
var callLog = rpc.declare({ object: 'mip4', method: 'log', params: [ 'since', 'limit' ], expect: { lines: [] },
	reject: true });
var callReregister = rpc.declare({ object: 'mip4', method: 'reregister', expect: { reregistered: [] }, reject: true });

var LOG_LINES = 10;

var MODES = {
	c: _('inside, co-located care-of (c)'),
	f: _('inside, through a foreign agent (f)'),
	cvc: _('outside, VPN, co-located (cvc)'),
	fvc: _('outside, VPN, foreign agent (fvc)'),
	home: _('at home')
};

function secs(s) {
	return (s == null) ? '-' : _('%d s').format(Math.round(s));
}

/* an error's message without the stack trace L.raise() appends to it */
function errorText(e) {
	return String((e && e.message) ? e.message : e).split(/\n/)[0];
}

/* a registration's lifetime as LuCI's progress bar; the theme draws the title inside the bar */
function lifetimeBar(r) {
	var pct = (r.registered && r.lifetime) ? Math.max(0, Math.min(100, 100 * r.remaining / r.lifetime)) : 0;
	var label = r.agent + ': ' + (r.registered ? '%s / %s'.format(secs(r.remaining), secs(r.lifetime))
		: (r.pending ? _('pending') : _('not registered')));

	return E('div', { 'class': 'cbi-progressbar mip4-reg', 'data-agent': r.agent, 'title': label },
		E('div', { 'style': 'width:%.1f%%'.format(pct) }));
}

/* set el's text only when it changed (no DOM churn at each poll) */
function setText(el, text) {
	if (el.textContent !== text)
		el.textContent = text;
}

return view.extend({
	load: function() {
		return Promise.all([
			this.fetchStatus(),
			L.resolveDefault(callLog(0, LOG_LINES), null),
			L.resolveDefault(uci.load('mip4'), null)
		]);
	},

	/* the status call with its error kept, so that the page can say what failed */
	fetchStatus: function() {
		return callStatus().then(function(top) {
			if (!L.isObject(top.status))
				throw new Error(_('mip4d answered without a status'));
			return top;
		}).catch(function(e) {
			return { error: errorText(e) };
		});
	},

	/* the uplink's network name in /etc/config/mip4 (the section whose device it is) */
	networkOf: function(dev, u) {
		var name = dev;

		(uci.sections('mip4', 'uplink') || []).forEach(function(s) {
			if ((s.device || s['.name']) === dev)
				name = s['.name'];
		});

		return u.foreign_agent ? _('%s via FA %s').format(name, u.foreign_agent) : name;
	},

	field: function(id) {
		return E('span', { 'id': 'mip4-' + id }, '\u2014');
	},

	row: function(title, content) {
		return E('tr', { 'class': 'tr' }, [
			E('td', { 'class': 'td left', 'width': '33%' }, E('strong', {}, title)),
			E('td', { 'class': 'td left' }, content)
		]);
	},

	render: function(data) {
		var uplinks = E('table', { 'class': 'table', 'id': 'mip4-uplinks' }, [
			E('tr', { 'class': 'tr table-titles' }, [
				_('Uplink'), _('Network'), _('State'), _('Mode'), _('Care-of address'), _('Gate'),
				_('T_MONITOR'), _('Registrations')
			].map(function(t) { return E('th', { 'class': 'th' }, t); }))
		]);

		var view = E('div', { 'id': 'mip4-status' }, [
			E('h2', {}, _('Mobile IP')),
			E('div', { 'class': 'cbi-map-descr' },
				_('RFC 5265 mobility: inside the intranet Mobile IPv4 in clear, outside x-MIP, IPsec and i-MIP.')),
			E('div', { 'id': 'mip4-error', 'class': 'alert-message warning', 'style': 'display:none' }),
			E('div', { 'class': 'cbi-section' }, [
				E('h3', {}, _('Now')),
				E('table', { 'class': 'table', 'id': 'mip4-now' }, [
					this.row(_('Mode'), [ this.field('mode'), ' ', this.field('mode-text') ]),
					this.row(_('Verdict'), [ this.field('verdict'), ' \u2014 ', this.field('reason') ]),
					this.row(_('IKE SA'), this.field('ike')),
					this.row(_('CHILD_SA'), [ this.field('child'), ' ', this.field('vpn-tia') ]),
					this.row(_('T_MONITOR'), this.field('tmonitor')),
					this.row(_('mip4d'), this.field('daemon'))
				]),
				E('div', { 'class': 'right' }, E('button', {
					'class': 'cbi-button cbi-button-action', 'id': 'mip4-reregister',
					'click': ui.createHandlerFn(this, 'handleReregister')
				}, _('Re-register now')))
			]),
			E('div', { 'class': 'cbi-section' }, [ E('h3', {}, _('Uplinks')), uplinks ]),
			E('div', { 'class': 'cbi-section' }, [
				E('h3', {}, _('Handoffs')),
				E('ol', { 'id': 'mip4-handoffs' }),
				E('p', { 'id': 'mip4-no-handoffs' }, _('None yet'))
			]),
			E('div', { 'class': 'cbi-section' }, [
				E('h3', {}, _('Log')),
				E('p', { 'id': 'mip4-log-error', 'class': 'alert-message warning', 'style': 'display:none' }),
				E('table', { 'class': 'table', 'id': 'mip4-log' }, [
					E('tr', { 'class': 'tr table-titles' }, [ _('Time'), _('Level'), _('Message') ].map(function(t) {
						return E('th', { 'class': 'th' }, t);
					}))
				])
			])
		]);

		this.nodes = view;
		this.update(data);

		poll.add(L.bind(function() {
			return Promise.all([
				this.fetchStatus(),
				L.resolveDefault(callLog(0, LOG_LINES), null)
			]).then(L.bind(this.update, this));
		}, this));

		return view;
	},

	$: function(id) {
		return this.nodes.querySelector('#mip4-' + id);
	},

	update: function(data) {
		this.updateStatus(data[0]);
		this.updateLog(data[1]);
	},

	updateStatus: function(top) {
		var err = this.$('error');

		if (top.error) {
			setText(err, _('Could not read the status of mip4d: %s').format(top.error));
			err.style.display = '';
			return; /* the last values stay; the next poll tries again */
		}

		err.style.display = 'none';

		var s = top.status, primary = (s.interfaces || {})[s.primary] || null;

		setText(this.$('mode'), s.mode || '\u2014');
		setText(this.$('mode-text'), s.mode ? (MODES[s.mode] || s.mode) : _('no uplink carries user data'));
		setText(this.$('verdict'), s.verdict || '-');
		setText(this.$('reason'), s.verdict_reason || '-');
		setText(this.$('ike'), (s.ike || '-') + (s.ike_reason ? ' (' + s.ike_reason + ')' : ''));
		setText(this.$('child'), s.child_sa || '-');
		setText(this.$('vpn-tia'), s.vpn_tia ? _('VPN-TIA %s').format(s.vpn_tia) : '');
		setText(this.$('tmonitor'), (primary && primary.t_monitor_left != null)
			? _('next proof due in %s of %s').format(secs(primary.t_monitor_left), secs(s.t_monitor))
			: _('not monitoring (outside or no uplink)'));
		setText(this.$('daemon'), _('role %s, PID %d, up %s').format(top.role, top.pid, '%t'.format(top.uptime || 0)));

		this.updateUplinks(s);
		this.updateHandoffs(s.handoffs || []);
	},

	/* one row per uplink, kept by name: cells are rewritten, rows added or removed as uplinks come and go */
	updateUplinks: function(s) {
		var table = this.$('uplinks'), ifaces = s.interfaces || {}, self = this;
		var names = Object.keys(ifaces).sort(function(a, b) {
			return ifaces[a].priority - ifaces[b].priority;
		});

		table.querySelectorAll('tr.mip4-uplink').forEach(function(tr) {
			if (!ifaces.hasOwnProperty(tr.getAttribute('data-uplink')))
				tr.remove();
		});

		names.forEach(function(dev) {
			var u = ifaces[dev],
			    tr = table.querySelector('tr.mip4-uplink[data-uplink="%s"]'.format(dev));

			if (!tr) {
				tr = E('tr', { 'class': 'tr mip4-uplink', 'data-uplink': dev }, [
					'name', 'network', 'state', 'mode', 'coa', 'gate', 'tmon', 'regs'
				].map(function(k) { return E('td', { 'class': 'td mip4-' + k }); }));
			}
			table.appendChild(tr); /* in priority order */

			var cell = function(k) { return tr.querySelector('.mip4-' + k); };
			setText(cell('name'), dev + (dev === s.primary ? ' \u2605' : ''));
			setText(cell('network'), self.networkOf(dev, u));
			setText(cell('state'), u.state || '-');
			setText(cell('mode'), u.mode || '-');
			setText(cell('coa'), u.care_of || '-');
			setText(cell('gate'), u.gate || _('blocked'));
			setText(cell('tmon'), secs(u.t_monitor_left));

			var regs = (u.registrations || []).concat(dev === s.primary ? (s.vpn_registrations || []) : []);
			self.updateBars(cell('regs'), regs);
		});
	},

	updateBars: function(td, regs) {
		var bars = td.querySelectorAll('.mip4-reg');

		if (bars.length !== regs.length) {
			dom.content(td, regs.map(lifetimeBar));
			return;
		}

		regs.forEach(function(r, i) {
			var fresh = lifetimeBar(r);
			bars[i].setAttribute('data-agent', fresh.getAttribute('data-agent'));
			if (bars[i].getAttribute('title') !== fresh.getAttribute('title'))
				bars[i].setAttribute('title', fresh.getAttribute('title'));
			bars[i].firstChild.style.width = fresh.firstChild.style.width;
		});
	},

	updateHandoffs: function(handoffs) {
		var list = this.$('handoffs'), items = handoffs.slice().reverse().map(function(h) {
			return E('li', { 'class': 'mip4-handoff' }, [
				E('strong', {}, new Date(h.at * 1000).toLocaleTimeString() + ' '),
				_('%s \u2192 %s, no data for %.1f s').format(h.from, h.to, h.duration),
				h.reason ? E('em', {}, ' (' + h.reason + ')') : ''
			]);
		});

		/* handoffs only grow: rebuild the list when it changed, not at every poll */
		if (list.getAttribute('data-count') !== String(handoffs.length)) {
			dom.content(list, items);
			list.setAttribute('data-count', String(handoffs.length));
		}

		this.$('no-handoffs').style.display = handoffs.length ? 'none' : '';
	},

	updateLog: function(lines) {
		var table = this.$('log'), err = this.$('log-error');

		if (lines == null) {
			setText(err, _('The log of mip4d could not be read.'));
			err.style.display = '';
			return;
		}

		err.style.display = 'none';

		var last = lines.length ? String(lines[lines.length - 1].seq) : '';
		if (table.getAttribute('data-last') === last)
			return;
		table.setAttribute('data-last', last);

		table.querySelectorAll('tr.mip4-log-line').forEach(function(tr) { tr.remove(); });
		lines.slice().reverse().forEach(function(l) {
			table.appendChild(E('tr', { 'class': 'tr mip4-log-line' }, [
				E('td', { 'class': 'td' }, new Date(l.time * 1000).toLocaleTimeString()),
				E('td', { 'class': 'td' }, l.level),
				E('td', { 'class': 'td' }, l.message)
			]));
		});
	},

	handleReregister: function() {
		return callReregister().then(function(ifaces) {
			ui.addNotification(null, E('p', {}, _('Re-registering on %s').format(ifaces.join(', ') || '-')), 'info');
		}).catch(function(e) {
			ui.addNotification(null, E('p', {}, _('Re-registering failed: %s').format(errorText(e))), 'danger');
		});
	},

	handleSave: null,
	handleSaveApply: null,
	handleReset: null
});

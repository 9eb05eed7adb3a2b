// Crier console: drafts that save themselves, a question before leaving
// unsaved changes, and moving calendar posts by drag and drop. Everything
// works without this file: Save draft, and the calendar's "Move to…" form.
(function () {
  'use strict';

  function csrfToken() {
    var el = document.querySelector('input[name=csrf]');
    return el ? el.value : '';
  }

  function hhmm(d) {
    return ('0' + d.getHours()).slice(-2) + ':' + ('0' + d.getMinutes()).slice(-2);
  }

  // autosave saves the write form as a draft through its own Save draft
  // endpoint every few seconds after a change, then takes the post's new
  // address and revision so that the next save, Schedule or Publish act on
  // what was saved.
  function autosave(form) {
    var status = document.getElementById('autosave-status');
    var edits = 0, saved = 0, saving = false, leaving = false;
    function show(text) { if (status) status.textContent = text; }
    form.addEventListener('input', function () { edits++; });
    form.addEventListener('change', function () { edits++; });
    form.addEventListener('submit', function () { leaving = true; });
    window.addEventListener('beforeunload', function (e) {
      if (leaving || edits === saved) return;
      e.preventDefault();
      e.returnValue = ''; // the browser asks "Leave site? Changes you made may not be saved."
    });
    function save() {
      if (saving || leaving || edits === saved || !form.checkValidity()) return;
      saving = true;
      var at = edits;
      var data = new FormData(form);
      data.set('action', 'save');
      var file = form.querySelector('input[type=file]');
      if (file) data.delete(file.name); // an image is uploaded by Save draft, not every few seconds
      // Not form.action: the buttons named "action" shadow it.
      fetch(form.getAttribute('action'), {
        method: 'POST', body: data, credentials: 'same-origin',
        headers: { 'X-CSRF-Token': csrfToken() }
      }).then(function (r) {
        var m = /\/posts\/([^\/?#]+)$/.exec(new URL(r.url).pathname);
        if (!r.ok || !m) return Promise.reject(r.status);
        var id = decodeURIComponent(m[1]);
        form.setAttribute('action', '/posts/' + encodeURIComponent(id));
        var idField = form.querySelector('input[name=id]');
        if (idField) idField.value = id;
        history.replaceState(null, '', '/posts/' + encodeURIComponent(id) + '/edit');
        return fetch('/posts/' + encodeURIComponent(id) + '/edit', { credentials: 'same-origin' });
      }).then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          var doc = new DOMParser().parseFromString(html, 'text/html');
          var fresh = doc.querySelector('#write input[name=revision]');
          var mine = form.querySelector('input[name=revision]');
          if (fresh && mine) mine.value = fresh.value;
          saved = at;
          show('Saved ' + hhmm(new Date()));
        }).catch(function () {
          show('Not saved automatically: press Save draft to see why.');
        }).then(function () { saving = false; });
    }
    if (form.hasAttribute('data-autosave')) setInterval(save, 5000);
  }

  // calendarDrag lets an editor drop a scheduled post on another day: the
  // same request as the post's "Move to…" form.
  function calendarDrag(table) {
    var dragged = null;
    table.addEventListener('dragstart', function (e) {
      dragged = e.target.closest && e.target.closest('[data-move]');
      if (!dragged) return;
      e.dataTransfer.effectAllowed = 'move';
      e.dataTransfer.setData('text/plain', dragged.getAttribute('data-move'));
    });
    table.addEventListener('dragover', function (e) {
      var day = dragged && e.target.closest('td[data-date]');
      if (!day) return;
      e.preventDefault();
      day.classList.add('drop');
    });
    table.addEventListener('dragleave', function (e) {
      var day = e.target.closest && e.target.closest('td[data-date]');
      if (day && !day.contains(e.relatedTarget)) day.classList.remove('drop');
    });
    table.addEventListener('drop', function (e) {
      var day = e.target.closest('td[data-date]');
      if (!dragged || !day) return;
      e.preventDefault();
      day.classList.remove('drop');
      var data = new FormData();
      data.set('csrf', csrfToken());
      data.set('revision', dragged.getAttribute('data-revision'));
      data.set('date', day.getAttribute('data-date'));
      dragged.classList.add('moving');
      fetch(dragged.getAttribute('data-move'), { method: 'POST', body: data, credentials: 'same-origin' })
        .then(function (r) {
          // The calendar the move redirected to says where the post went.
          if (r.ok) { location.assign(r.url); return null; }
          return r.text().then(function (html) {
            var doc = new DOMParser().parseFromString(html, 'text/html');
            var why = doc.querySelector('.notice, .problem, main p');
            window.alert(why ? why.textContent.trim() : 'The post could not be moved.');
            location.reload();
          });
        }).catch(function () { location.reload(); });
      dragged = null;
    });
  }

  // whenEcho says under a schedule field, as the organiser types, what
  // the server reads in it ("Tuesday 8 December 2026, 09:00 GMT") or what
  // is wrong: the server parses in the campaign's locale and zone, so the
  // page never guesses differently from what Schedule will do.
  function whenEcho(input) {
    var echo = document.getElementById(input.getAttribute('data-when'));
    if (!echo) return;
    var timer = null, asked = 0;
    input.addEventListener('input', function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var n = ++asked;
        fetch('/when?v=' + encodeURIComponent(input.value), { credentials: 'same-origin' })
          .then(function (r) {
            return r.text().then(function (text) {
              if (n !== asked) return; // an answer to an older value
              echo.textContent = text;
              echo.classList.toggle('when-bad', r.status === 422);
            });
          }).catch(function () {});
      }, 400);
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    document.querySelectorAll('input[data-when]').forEach(whenEcho);
    var form = document.getElementById('write');
    if (form) autosave(form);
    var cal = document.querySelector('table.calendar');
    if (cal) calendarDrag(cal);
  });
})();

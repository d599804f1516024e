// The HTTP API as the pages use it. Never throws: every call resolves to
// {ok, status, data, error, message}; status 0 means the network failed.

export async function api(path, { method = 'GET', token = null, json = undefined, form = undefined, signal } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  let body;
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form;
  }
  let response;
  try {
    response = await fetch(path, { method, headers, body, signal, cache: 'no-store', credentials: 'omit' });
  } catch (err) {
    return { ok: false, status: 0, data: null, error: 'network', message: String(err && err.message || err) };
  }
  const type = response.headers.get('Content-Type') || '';
  let data = null;
  if (type.includes('json')) {
    try { data = await response.json(); } catch { data = null; }
  } else {
    try { data = await response.text(); } catch { data = null; }
  }
  if (response.ok) return { ok: true, status: response.status, data, error: null, message: '' };
  const error = data && typeof data === 'object' && data.error ? data.error : `http_${response.status}`;
  const message = data && typeof data === 'object' && data.message ? data.message : response.statusText;
  return { ok: false, status: response.status, data, error, message };
}

/** Fetch a protected file (an exhibit) and return an object URL for it, or null. */
export async function blobUrl(path, token) {
  try {
    const response = await fetch(path, { headers: token ? { Authorization: `Bearer ${token}` } : {}, credentials: 'omit' });
    if (!response.ok) return null;
    return URL.createObjectURL(await response.blob());
  } catch {
    return null;
  }
}

/** Upload with progress (fetch has no upload progress). Resolves like api(). */
export function upload(path, { token, form, onProgress }) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    if (token) xhr.setRequestHeader('Authorization', `Bearer ${token}`);
    xhr.upload.onprogress = (e) => { if (onProgress && e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onload = () => {
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch { data = xhr.responseText; }
      const ok = xhr.status >= 200 && xhr.status < 300;
      resolve({
        ok,
        status: xhr.status,
        data,
        error: ok ? null : (data && data.error) || `http_${xhr.status}`,
        message: ok ? '' : (data && data.message) || xhr.statusText,
      });
    };
    xhr.onerror = () => resolve({ ok: false, status: 0, data: null, error: 'network', message: 'network error' });
    xhr.send(form);
  });
}

/** Which hearing a page is about: the last part of /join/ID, /console/ID, /gallery/ID. */
export function hearingIdFromPath() {
  const parts = location.pathname.split('/').filter(Boolean);
  return parts.length >= 2 ? decodeURIComponent(parts[1]) : null;
}

import { startTimer } from './intrinsics.js';

// Form submissions the engine cannot carry to the bus by itself.
//
// WebKitGTK crashes the host process when a scheme handler reads a Blob-backed body — and
// a multipart form with a file input is exactly that; Android's shouldInterceptRequest
// never sees a POST body at all. So the shim takes such submissions over: it builds the
// body from the form (files included), sends it through the shim's own fetch (frames),
// and shows the answer as the new page — a redirect target by a real navigation, an HTML
// answer written into the document (with the address updated), anything else as text.

/** Which POST form submissions to bus URLs the shim takes over. */
export type FormMode = 'files' | 'all' | false;

export interface FormContext {
  /** Whether `url` is a bus URL. */
  isBus(url: URL): boolean;
  /** The shim's fetch (frames). */
  fetch: typeof fetch;
}

/**
 * Listens for submissions on `doc`. The decision waits until the page's own handlers have had
 * the event, as HTML's does (a form is submitted only if no handler cancels its `submit`
 * event): a handler on the form, on a framework's root (React, Remix), on the document or the
 * window that calls `preventDefault()` or returns `false` keeps the submission its own.
 */
export function interceptForms(doc: Document, ctx: FormContext, mode: Exclude<FormMode, false>): () => void {
  const win = doc.defaultView;
  const onSubmit = (event: Event): void => {
    const form = event.target;
    // A submit event page script dispatches submits nothing, in the engine or here.
    if (!(form instanceof HTMLFormElement) || !event.isTrusted || event.defaultPrevented) return;
    const submitter = ((event as SubmitEvent).submitter ?? null) as HTMLElement | null;
    /** The submission to take over, read as HTML does: after the page's handlers ran. */
    // The form's own attributes through HTMLFormElement's getters: `form.action`, `.method`,
    // `.enctype`, `.target`, `.elements` are a control's when one has that name
    // (`<input name="action">`, a common pattern), as HTMLFormElement's named properties
    // override its built-ins.
    const planned = (): { action: URL; enctype: string } | null => {
      const method = (submitter?.getAttribute('formmethod') ?? formProperty(form, 'method') ?? 'get').toLowerCase();
      if (method !== 'post') return null;
      // The submitter's formAction, as `action`, is the document's URL when it is empty.
      const actionText = submitter !== null && submitter.hasAttribute('formaction') ? (submitter as HTMLButtonElement).formAction : formProperty(form, 'action');
      const action = new URL(actionText ?? doc.URL, doc.baseURI);
      if (!ctx.isBus(action)) return null;
      // Another browsing context's submission is the engine's business.
      if (!targetsThisDocument(doc, form, submitter)) return null;
      const enctype = (submitter?.getAttribute('formenctype') ?? formProperty(form, 'enctype') ?? '').toLowerCase();
      const controls = formControls(form);
      let hasFiles = false;
      for (let i = 0; i < controls.length; i++) {
        const el = controls[i];
        if (el instanceof HTMLInputElement && el.type === 'file' && !el.disabled) hasFiles = true;
      }
      if (mode === 'files' && !(enctype === 'multipart/form-data' && hasFiles)) return null;
      return { action, enctype };
    };
    const send = (plan: { action: URL; enctype: string }): void => {
      const { action, enctype } = plan;
      void submit(doc, ctx, form, submitter, action, enctype).catch((e: unknown) => {
        console.error(`bus form: submitting to ${action.href} failed: ${e instanceof Error ? e.message : String(e)}`);
        showText(doc, action.href, `The form could not be sent: ${e instanceof Error ? e.message : String(e)}`);
      });
    };
    let decided = false;
    // Last in the event's path: a listener the window gets now, during the dispatch, runs
    // after every one it had.
    const last = (e: Event): void => {
      if (e !== event || decided) return;
      decided = true;
      unhook();
      if (event.defaultPrevented) return; // the page's own
      const plan = planned();
      if (plan === null) return; // the engine's
      event.preventDefault();
      send(plan);
    };
    // A handler that stops the event's propagation keeps it from the window. The engine's
    // submission must not start (WebKitGTK cannot carry a file to the bus, Android no body at
    // all), so it is cancelled then, and the page's own cancellation is what that handler
    // (or one after it on the same element) does by the end of the dispatch through
    // `preventDefault()`: the submission goes a task later unless it did. (Not a microtask:
    // a dispatch the host's script starts runs none until that script's task ends. A
    // `return false` after the stop is the engine's own business and is not seen.)
    const stopped = (): void => {
      if (decided) return;
      decided = true;
      unhook();
      if (event.defaultPrevented) return;
      const plan = planned();
      if (plan === null) return;
      let pageCancelled = false;
      apply(preventDefaultOf, event, []);
      defineProperty(event, 'defaultPrevented', { configurable: true, get: () => pageCancelled });
      defineProperty(event, 'preventDefault', {
        configurable: true,
        writable: true,
        value: function preventDefault(): void {
          pageCancelled = true;
        },
      });
      startTimer(() => {
        if (!pageCancelled) send(plan);
      }, 0);
    };
    const wrap = (name: 'stopPropagation' | 'stopImmediatePropagation', original: (this: Event) => void): void => {
      defineProperty(event, name, {
        configurable: true,
        writable: true,
        value: function (this: Event): void {
          apply(original, event, []);
          stopped();
        },
      });
    };
    const unhook = (): void => {
      win?.removeEventListener('submit', last);
    };
    wrap('stopPropagation', stopPropagationOf);
    wrap('stopImmediatePropagation', stopImmediatePropagationOf);
    // The legacy way to stop propagation.
    defineProperty(event, 'cancelBubble', {
      configurable: true,
      get: () => (cancelBubbleOf ? (apply(cancelBubbleOf, event, []) as boolean) : false),
      set: (value: unknown) => {
        if (value) apply(stopPropagationOf, event, []);
        if (value) stopped();
      },
    });
    if (win) {
      win.addEventListener('submit', last);
      // Whatever happened, the window's listener does not outlive the dispatch.
      startTimer(unhook, 0);
    } else {
      last(event);
    }
  };
  doc.addEventListener('submit', onSubmit, true);
  return () => doc.removeEventListener('submit', onSubmit, true);
}

const { apply } = Reflect;
const { defineProperty } = Object;
const EventProto = typeof Event === 'function' ? Event.prototype : ({} as Event);
const preventDefaultOf = EventProto.preventDefault;
const stopPropagationOf = EventProto.stopPropagation;
const stopImmediatePropagationOf = EventProto.stopImmediatePropagation;
const cancelBubbleOf = Object.getOwnPropertyDescriptor(EventProto, 'cancelBubble')?.get;
const FormProto = typeof HTMLFormElement === 'function' ? HTMLFormElement.prototype : null;
const formGetters = {
  action: FormProto ? Object.getOwnPropertyDescriptor(FormProto, 'action')?.get : undefined,
  method: FormProto ? Object.getOwnPropertyDescriptor(FormProto, 'method')?.get : undefined,
  enctype: FormProto ? Object.getOwnPropertyDescriptor(FormProto, 'enctype')?.get : undefined,
};
const formElementsOf = FormProto ? Object.getOwnPropertyDescriptor(FormProto, 'elements')?.get : undefined;

const ElementProto = typeof Element === 'function' ? Element.prototype : null;
const hasAttributeOf = ElementProto?.hasAttribute;
const getAttributeOf = ElementProto?.getAttribute;
const querySelectorOf = typeof Document === 'function' ? Document.prototype.querySelector : undefined;

/** `el.getAttribute(name)` by Element's own method (a form's control could be named `getAttribute`). */
function attribute(el: Element, name: string): string | null {
  if (!hasAttributeOf || !getAttributeOf || !apply(hasAttributeOf, el, [name])) return null;
  const value: unknown = apply(getAttributeOf, el, [name]);
  return typeof value === 'string' ? value : null;
}

/**
 * Whether a submission of `form` by `submitter` navigates this document's own browsing
 * context, by HTML's "get an element's target" (the submitter's `formtarget`, else the
 * form's `target`, else the first `<base target>`) and its rules for choosing a navigable
 * (keywords are ASCII case-insensitive; `_top` and `_parent` of a top-level document, and
 * the window's own name, are this context).
 */
function targetsThisDocument(doc: Document, form: HTMLFormElement, submitter: HTMLElement | null): boolean {
  let target = submitter !== null ? attribute(submitter, 'formtarget') : null;
  if (target === null) target = attribute(form, 'target');
  if (target === null) {
    // (Document.prototype's own querySelector: `<img name="querySelector">` would hide it.)
    const base = querySelectorOf ? (apply(querySelectorOf, doc, ['base[target]']) as Element | null) : null;
    target = base !== null ? attribute(base, 'target') : null;
  }
  if (target === null || target === '') return true;
  const keyword = target.toLowerCase();
  if (keyword === '_self') return true;
  const win = doc.defaultView;
  if (win === null) return false;
  const topLevel = win === win.parent;
  if (keyword === '_top' || keyword === '_parent') return topLevel;
  if (keyword === '_blank') return false;
  return target === win.name;
}

/** A form's IDL attribute by HTMLFormElement's own getter (never a control of that name). */
function formProperty(form: HTMLFormElement, name: keyof typeof formGetters): string | null {
  const getter = formGetters[name];
  const value: unknown = getter ? apply(getter, form, []) : null;
  return typeof value === 'string' ? value : null;
}

/** The form's controls (`form.elements`, which a control named "elements" would hide). */
function formControls(form: HTMLFormElement): ArrayLike<Element> {
  return formElementsOf ? (apply(formElementsOf, form, []) as HTMLFormControlsCollection) : [];
}

async function submit(doc: Document, ctx: FormContext, form: HTMLFormElement, submitter: HTMLElement | null, action: URL, enctype: string): Promise<void> {
  const data = new FormData(form, submitter ?? undefined);
  let body: BodyInit;
  if (enctype === 'multipart/form-data') {
    body = data; // the shim's fetch builds the multipart body (files read as bytes)
  } else if (enctype === 'text/plain') {
    body = Array.from(data, ([k, v]) => `${k}=${typeof v === 'string' ? v : v.name}\r\n`).join('');
  } else {
    const params = new URLSearchParams();
    for (const [k, v] of data) params.append(k, typeof v === 'string' ? v : v.name);
    body = params;
  }
  const response = await ctx.fetch(action.href, { method: 'POST', body, redirect: 'follow', headers: { accept: 'text/html,*/*;q=0.8' } });
  if (response.redirected) {
    // POST, then a redirect: the target was fetched with GET; navigate there for real.
    doc.defaultView?.location.assign(response.url);
    return;
  }
  const kind = response.headers.get('content-type') ?? '';
  const text = await response.text();
  if (/^text\/html|^application\/xhtml\+xml/i.test(kind)) {
    doc.defaultView?.history.pushState(null, '', response.url || action.href);
    doc.open();
    doc.write(text);
    doc.close();
  } else {
    showText(doc, response.url || action.href, text);
  }
}

function showText(doc: Document, url: string, text: string): void {
  doc.defaultView?.history.pushState(null, '', url);
  doc.open();
  doc.write('<!doctype html><meta charset="utf-8"><pre></pre>');
  doc.close();
  const pre = doc.querySelector('pre');
  if (pre) pre.textContent = text;
}

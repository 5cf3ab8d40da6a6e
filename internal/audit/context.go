package audit

import "context"

// Request is what an event records about the HTTP request that caused it.
// The web layer puts it in the request's context once (WithRequest), and
// every Append under that context fills these fields by itself.
type Request struct {
	IP        string // client address
	UserAgent string // User-Agent header (Append truncates it)
	RequestID string // the ID in the request's log lines and X-Request-Id
}

type requestKey struct{}

type actorKey struct{}

// WithRequest returns a context that carries r for the events appended
// under it.
func WithRequest(ctx context.Context, r Request) context.Context {
	return context.WithValue(ctx, requestKey{}, r)
}

// RequestFrom returns the Request carried by ctx, or the zero Request.
func RequestFrom(ctx context.Context) Request {
	r, _ := ctx.Value(requestKey{}).(Request)
	return r
}

// WithActor returns a context whose events are attributed to actor (an
// opaque account ID, ActorSystem or ActorCLI) when they name none.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorFrom returns the actor carried by ctx, or "".
func ActorFrom(ctx context.Context) string {
	a, _ := ctx.Value(actorKey{}).(string)
	return a
}

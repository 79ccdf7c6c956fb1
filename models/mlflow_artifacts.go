package models

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/codexion/codexion/platform"
	"github.com/codexion/codexion/platform/httpx"
)

// artifactsPrefix is MLflow's proxied artifact API: clients resolve mlflow-artifacts:/PATH
// to PREFIX/artifacts/PATH on the tracking server.
const artifactsPrefix = "/api/2.0/mlflow-artifacts"

// artifactRoutes registers the proxied artifact API and the tracking-side listings.
func (h *MLflow) artifactRoutes(r *httpx.Router) {
	upload := httpx.Roles(mlWriters...).ErrorsAs(h.fail).BodyLimit(MaxArtifactBytes)
	h.handle(r, "PUT "+artifactsPrefix+"/artifacts/{path...}", upload, "Upload an artifact (raw body, up to 2 GiB; its SHA-256 is recorded)", h.putArtifact)
	h.handle(r, "GET "+artifactsPrefix+"/artifacts/{path...}", h.access(mlReaders), "Download an artifact, checked against its recorded SHA-256", h.getArtifact)
	h.handle(r, "GET "+artifactsPrefix+"/artifacts", h.access(mlReaders), "List an artifact directory (?path=)", h.listArtifacts)
	h.handle(r, "DELETE "+artifactsPrefix+"/artifacts/{path...}", h.access(mlWriters), "Delete artifacts (not those of registered versions)", h.deleteArtifact)
	for _, op := range []string{"create", "complete", "abort"} {
		h.handle(r, "POST "+artifactsPrefix+"/mpu/"+op+"/{path...}", h.access(mlWriters), "Multipart upload: not supported, clients fall back to PUT", h.noMultipart)
	}
	h.route(r, "GET", "/artifacts/list", mlReaders, "List a run's artifacts", h.listRunArtifacts)
	h.route(r, "GET", "/logged-models/{model_id}/artifacts/directories", mlReaders, "List a logged model's artifacts", h.listLoggedModelArtifacts)
}

func (h *MLflow) putArtifact(w http.ResponseWriter, r *http.Request) error {
	size := r.ContentLength
	if size > MaxArtifactBytes {
		return httpx.CodeBodyTooLarge.New("artifact is %d bytes; the limit is %d", size, int64(MaxArtifactBytes))
	}
	if _, err := h.store.PutArtifact(r.Context(), r.PathValue("path"), r.Body, size, r.Header.Get("Content-Type")); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return httpx.CodeBodyTooLarge.New("artifact is larger than %d bytes", mbe.Limit)
		}
		return err
	}
	return ok(w)
}

func (h *MLflow) getArtifact(w http.ResponseWriter, r *http.Request) error {
	p := r.PathValue("path")
	a, err := h.store.OpenArtifact(r.Context(), p)
	if err != nil {
		return err
	}
	defer func() { _ = a.Close() }()
	ct := mime.TypeByExtension(path.Ext(p))
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.FormatInt(a.SizeBytes, 10))
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(p)}))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	// The first read fills the reader's window, so an object that fails its digest within
	// it is answered with an error rather than a partial body.
	buf := make([]byte, verifyChunkBytes)
	n, err := a.Read(buf)
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(buf[:n]); err != nil {
		return nil
	}
	if _, err := io.Copy(w, a); err != nil {
		// Headers are gone: cut the connection so the client sees a short body, not a whole one.
		h.log.ErrorContext(r.Context(), "artifact download stopped", "path", p, "err", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}

func (h *MLflow) listArtifacts(w http.ResponseWriter, r *http.Request) error {
	files, err := h.store.ListArtifacts(r.Context(), r.URL.Query().Get("path"))
	if err != nil {
		return err
	}
	return reply(w, struct {
		Files []FileInfo `json:"files,omitempty"`
	}{files})
}

func (h *MLflow) deleteArtifact(w http.ResponseWriter, r *http.Request) error {
	if err := h.store.DeleteArtifacts(r.Context(), r.PathValue("path")); err != nil {
		return err
	}
	return ok(w)
}

func (h *MLflow) noMultipart(w http.ResponseWriter, _ *http.Request) error {
	httpx.WriteJSON(w, http.StatusNotImplemented, mlflowError{ErrorCode: "NOT_IMPLEMENTED",
		Message: "Multipart upload is not supported for the current artifact repository; upload with PUT"})
	return nil
}

// artifactDir is the artifact path of a location under Codexion's artifact store.
func artifactDir(uri string) (string, error) {
	if !strings.HasPrefix(uri, ArtifactScheme) {
		return "", platform.Invalid("artifact location %s is not served by Codexion", uri)
	}
	return strings.TrimLeft(strings.TrimPrefix(uri, ArtifactScheme), "/"), nil
}

// listUnder answers a tracking-side listing: the entries under root/sub, with paths
// relative to root (including sub), as MLflow's artifacts/list answers them.
func (h *MLflow) listUnder(w http.ResponseWriter, r *http.Request, rootURI, sub string) error {
	root, err := artifactDir(rootURI)
	if err != nil {
		return err
	}
	sub = strings.Trim(sub, "/")
	dir := root
	if sub != "" {
		if _, err := artifactKey(sub); err != nil {
			return err
		}
		dir += "/" + sub
	}
	files, err := h.store.ListArtifacts(r.Context(), dir)
	if err != nil {
		return err
	}
	for i := range files {
		if sub != "" {
			files[i].Path = sub + "/" + files[i].Path
		}
	}
	return reply(w, struct {
		RootURI string     `json:"root_uri"`
		Files   []FileInfo `json:"files,omitempty"`
	}{rootURI, files})
}

func (h *MLflow) listRunArtifacts(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		runRef
		Path string `json:"path"`
	}
	if err := bind(r, &req); err != nil {
		return err
	}
	id, err := req.id()
	if err != nil {
		return err
	}
	run, err := h.store.GetRun(r.Context(), id)
	if err != nil {
		return err
	}
	return h.listUnder(w, r, run.Info.ArtifactURI, req.Path)
}

func (h *MLflow) listLoggedModelArtifacts(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Path string `json:"artifact_directory_path"`
	}
	if err := bind(r, &req); err != nil {
		return err
	}
	m, err := h.store.GetLoggedModel(r.Context(), r.PathValue("model_id"), false)
	if err != nil {
		return err
	}
	return h.listUnder(w, r, m.Info.ArtifactURI, req.Path)
}

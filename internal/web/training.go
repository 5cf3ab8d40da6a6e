package web

import (
	"html/template"
	"maps"
	"net/http"
	"strconv"
	"strings"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/markdown"
	"github.com/portico/portico/internal/training"
)

// trainingRoutes are security-awareness training (MTL-8.1, CP-12): every
// member of staff takes the modules assigned to their role (TrainingTake,
// open even while their training is overdue, so that the training which
// lifts the restriction can be done); administrators write and follow the
// modules (TrainingManage), and the governance readers see them
// (GovernanceRead).
func (s *Server) trainingRoutes() []route {
	if s.training == nil {
		return nil
	}
	return []route{
		{"GET /training", access.TrainingTake, s.trainingList},
		{"GET /training/{slug}", access.TrainingTake, s.trainingModule},
		{"POST /training/{slug}", access.TrainingTake, s.trainingSubmit},
		{"GET /admin/training", access.GovernanceRead, s.adminTraining},
		{"GET /admin/training/new", access.TrainingManage, s.adminTrainingNew},
		{"POST /admin/training", access.TrainingManage, s.adminTrainingCreate},
		{"GET /admin/training/{slug}", access.GovernanceRead, s.adminTrainingModule},
		{"POST /admin/training/{slug}", access.TrainingManage, s.adminTrainingEdit},
		{"POST /admin/training/{slug}/active", access.TrainingManage, s.adminTrainingActive},
	}
}

func init() {
	maps.Copy(flashes, map[string]string{
		"training-passed":    "You passed the module. Your other modules are listed below.",
		"training-complete":  "You passed every module assigned to you: your training is recorded, and your role's pages are open to you again.",
		"module-created":     "The module is saved and assigned to the roles you chose.",
		"module-edited":      "A new version of the module is saved; passes of earlier versions still count.",
		"module-deactivated": "The module is deactivated: nobody is assigned it any more. Passes are kept.",
		"module-reactivated": "The module is active again and assigned to its roles.",
	})
}

type trainingListPage struct {
	Page
	Progress training.Progress
}

// trainingList is a member of staff's modules with their state and due
// date.
//
// Enforces MTL-8.1: each member of staff sees their assigned modules and
// when their training is due.
func (s *Server) trainingList(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	prog, err := s.training.Progress(ctx, access.PrincipalFrom(ctx).AccountID)
	if err != nil {
		return err
	}
	return s.render(w, "training", trainingListPage{Page: s.page(w, r, "Security training"), Progress: prog})
}

type trainingModulePage struct {
	Page
	Module training.Module // the template reads Title, Questions' Text and Choices; the right answers are unexported
	Status training.Status
	Lesson template.HTML
	// Result is the attempt just sent, when it failed.
	Result *training.Result
}

func (s *Server) trainingModule(w http.ResponseWriter, r *http.Request) error {
	return s.renderTrainingModule(w, r, http.StatusOK, nil)
}

func (s *Server) renderTrainingModule(w http.ResponseWriter, r *http.Request, status int, res *training.Result) error {
	ctx := r.Context()
	m, st, err := s.training.Lesson(ctx, access.PrincipalFrom(ctx).AccountID, r.PathValue("slug"))
	if err != nil {
		return err
	}
	page := trainingModulePage{Page: s.page(w, r, m.Title), Module: m, Status: st, Lesson: markdown.Render(m.Lesson), Result: res}
	if res != nil {
		page.Error = "You scored " + strconv.Itoa(res.Score) + "%; the pass mark is " + strconv.Itoa(m.PassMark) + "%. Read the lesson again and retry."
	}
	return s.renderStatus(w, status, "training_module", page)
}

// trainingSubmit marks the quiz. A pass goes back to the list (saying
// whether the training is now complete); a failure shows the module
// again with the numbers of the questions answered wrong.
func (s *Server) trainingSubmit(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	ctx := r.Context()
	answers := map[int]int{}
	for k, v := range r.PostForm {
		n, ok := strings.CutPrefix(k, "q")
		if !ok || len(v) != 1 {
			continue
		}
		q, err1 := strconv.Atoi(n)
		a, err2 := strconv.Atoi(v[0])
		if err1 != nil || err2 != nil {
			return apperr.New(apperr.Invalid, "The answers do not match the quiz. Open the module again.")
		}
		answers[q] = a
	}
	res, err := s.training.Submit(ctx, access.PrincipalFrom(ctx).AccountID, r.PathValue("slug"), answers)
	if err != nil {
		return err
	}
	if !res.Passed {
		return s.renderTrainingModule(w, r, http.StatusOK, &res)
	}
	done := "training-passed"
	if res.Completed {
		done = "training-complete"
	}
	http.Redirect(w, r, "/training?done="+done, http.StatusSeeOther)
	return nil
}

type adminTrainingPage struct {
	Page
	Overview  training.Overview
	CanManage bool
}

// adminTraining lists the modules with their completion and the staff
// whose training is overdue.
//
// Enforces MTL-8.1: completion is tracked and overdue staff are listed.
func (s *Server) adminTraining(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	o, err := s.training.Overview(ctx)
	if err != nil {
		return err
	}
	return s.render(w, "admin_training", adminTrainingPage{Page: s.page(w, r, "Security training"), Overview: o,
		CanManage: access.Allowed(access.PrincipalFrom(ctx), access.TrainingManage)})
}

// moduleForm is the administrators' module form as sent.
type moduleForm struct {
	Slug, Title, Lesson, Quiz, PassMark string
	Audience                            []access.Role
}

// Has reports whether the form's audience holds role.
func (f moduleForm) Has(role access.Role) bool {
	for _, r := range f.Audience {
		if r == role {
			return true
		}
	}
	return false
}

type adminTrainingModulePage struct {
	Page
	New       bool
	Module    training.Module
	Lesson    template.HTML
	Staff     []training.StaffStatus
	Form      moduleForm
	Roles     []access.Role
	CanManage bool
}

func staffRoles() []access.Role {
	var out []access.Role
	for _, r := range access.Roles() {
		if r.IsStaff() {
			out = append(out, r)
		}
	}
	return out
}

func (s *Server) adminTrainingNew(w http.ResponseWriter, r *http.Request) error {
	return s.renderModuleForm(w, r, http.StatusOK, nil, moduleForm{PassMark: "80", Audience: staffRoles()})
}

// renderModuleForm shows the new-module form, or a module's page with its
// edit form when the path names one.
func (s *Server) renderModuleForm(w http.ResponseWriter, r *http.Request, status int, formErr error, f moduleForm) error {
	ctx := r.Context()
	slug := r.PathValue("slug")
	page := adminTrainingModulePage{Page: s.page(w, r, "New training module"), New: slug == "", Form: f, Roles: staffRoles(),
		CanManage: access.Allowed(access.PrincipalFrom(ctx), access.TrainingManage)}
	if !page.New {
		m, err := s.training.Module(ctx, slug)
		if err != nil {
			return err
		}
		page.Module, page.Title, page.Lesson = m, m.Title, markdown.Render(m.Lesson)
		if page.Staff, err = s.training.ModuleStaff(ctx, m); err != nil {
			return err
		}
		if formErr == nil {
			page.Form = moduleForm{Slug: m.Slug, Title: m.Title, Lesson: m.Lesson, Quiz: m.QuizText, PassMark: strconv.Itoa(m.PassMark), Audience: m.Audience}
		}
	}
	if formErr != nil {
		page.formProblems(formErr, "slug", "title", "audience", "pass_mark=pass-mark", "lesson", "quiz")
	}
	return s.renderStatus(w, status, "admin_training_module", page)
}

// adminTrainingModule is a module's page: its lesson, each member of
// staff's state on it, and (to administrators) the edit form.
func (s *Server) adminTrainingModule(w http.ResponseWriter, r *http.Request) error {
	return s.renderModuleForm(w, r, http.StatusOK, nil, moduleForm{})
}

// readModuleForm reads the module form into a draft.
func readModuleForm(r *http.Request) (moduleForm, training.Draft, error) {
	f := moduleForm{Slug: r.PostForm.Get("slug"), Title: r.PostForm.Get("title"), Lesson: r.PostForm.Get("lesson"),
		Quiz: r.PostForm.Get("quiz"), PassMark: r.PostForm.Get("pass_mark")}
	roles, err := training.ParseAudience(r.PostForm["audience"])
	f.Audience = roles
	if err != nil {
		return f, training.Draft{}, err
	}
	mark, err := strconv.Atoi(strings.TrimSpace(f.PassMark))
	if err != nil {
		return f, training.Draft{}, apperr.InField("pass_mark", apperr.New(apperr.Invalid, "The pass mark is a percentage from 1 to 100."))
	}
	return f, training.Draft{Slug: f.Slug, Title: f.Title, Lesson: f.Lesson, Quiz: f.Quiz, PassMark: mark, Audience: roles}, nil
}

func (s *Server) adminTrainingCreate(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	ctx := r.Context()
	f, d, err := readModuleForm(r)
	var m training.Module
	if err == nil {
		m, err = s.training.Create(ctx, d, access.PrincipalFrom(ctx).AccountID)
	}
	if err != nil {
		if formError(err) != "" {
			return s.renderModuleForm(w, r, formStatus(err), err, f)
		}
		return err
	}
	http.Redirect(w, r, "/admin/training/"+m.Slug+"?done=module-created", http.StatusSeeOther)
	return nil
}

func (s *Server) adminTrainingEdit(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	ctx := r.Context()
	slug := r.PathValue("slug")
	f, d, err := readModuleForm(r)
	f.Slug = slug
	if err == nil {
		_, err = s.training.Edit(ctx, slug, d, access.PrincipalFrom(ctx).AccountID)
	}
	if err != nil {
		if formError(err) != "" && apperr.CodeOf(err) != apperr.NotFound {
			return s.renderModuleForm(w, r, formStatus(err), err, f)
		}
		return err
	}
	http.Redirect(w, r, "/admin/training/"+slug+"?done=module-edited", http.StatusSeeOther)
	return nil
}

func (s *Server) adminTrainingActive(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	slug := r.PathValue("slug")
	active := r.PostForm.Get("active") == "on"
	if err := s.training.SetActive(r.Context(), slug, active); err != nil {
		return err
	}
	done := "module-deactivated"
	if active {
		done = "module-reactivated"
	}
	http.Redirect(w, r, "/admin/training/"+slug+"?done="+done, http.StatusSeeOther)
	return nil
}

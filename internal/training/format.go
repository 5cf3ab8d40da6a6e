package training

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/portico/portico/internal/apperr"
)

// The quiz's text format, as administrators write it in a textarea and
// as the built-in modules are stored:
//
//	? Which address do you sign in to Portico at?
//	- The one in the email that asked you to sign in
//	* The one you typed or bookmarked yourself
//	- Any address with "portico" in it
//
// A line starting with "? " begins a question; each "- " line under it is
// a wrong answer and the one "* " line the right answer, in the order
// they are shown. Blank lines are ignored. A question has 3 or 4 answers,
// exactly one right; a quiz has 1 to 20 questions. Anything else is
// refused, saying which line and what to change.

// Bounds on a quiz.
const (
	minChoices   = 3
	maxChoices   = 4
	maxQuestions = 20
	maxLine      = 500
	maxQuizBytes = 32 << 10
)

// Question is one question of a quiz. Which choice is right is kept in an
// unexported field: a template cannot reach it, so it never reaches the
// browser.
type Question struct {
	Text    string
	Choices []string
	right   int
}

// Right reports whether choice (0-based) is the right answer.
func (q Question) Right(choice int) bool { return choice == q.right }

// ParseQuiz reads a quiz written in the text format above. Its errors are
// apperr.Invalid with a sentence naming the line and what to change.
func ParseQuiz(src string) ([]Question, error) {
	if len(src) > maxQuizBytes {
		return nil, apperr.Errorf(apperr.Invalid, "The quiz is longer than %d KiB.", maxQuizBytes>>10)
	}
	var qs []Question
	rights := 0 // the right answers of the question being read
	done := func() error {
		if len(qs) == 0 {
			return nil
		}
		q := qs[len(qs)-1]
		n := len(qs)
		switch {
		case len(q.Choices) < minChoices || len(q.Choices) > maxChoices:
			return apperr.Errorf(apperr.Invalid, "Question %d has %d answers: give it %d or %d, one line each.", n, len(q.Choices), minChoices, maxChoices)
		case rights == 0:
			return apperr.Errorf(apperr.Invalid, "Question %d has no right answer: start the right one with \"* \".", n)
		case rights > 1:
			return apperr.Errorf(apperr.Invalid, "Question %d has %d right answers: mark only one with \"* \", the others with \"- \".", n, rights)
		}
		return nil
	}
	for i, line := range strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if !utf8.ValidString(line) || utf8.RuneCountInString(line) > maxLine {
			return nil, apperr.Errorf(apperr.Invalid, "Line %d is longer than %d characters.", i+1, maxLine)
		}
		mark, text, _ := strings.Cut(line, " ")
		text = strings.TrimSpace(text)
		if text == "" && (mark == "?" || mark == "-" || mark == "*") {
			return nil, apperr.Errorf(apperr.Invalid, "Line %d is empty after its %q: write the question or answer after it.", i+1, mark)
		}
		switch mark {
		case "?":
			if err := done(); err != nil {
				return nil, err
			}
			if len(qs) == maxQuestions {
				return nil, apperr.Errorf(apperr.Invalid, "The quiz has more than %d questions.", maxQuestions)
			}
			qs = append(qs, Question{Text: text})
			rights = 0
		case "-", "*":
			if len(qs) == 0 {
				return nil, apperr.Errorf(apperr.Invalid, "Line %d is an answer before any question: start the quiz with a line \"? your question\".", i+1)
			}
			q := &qs[len(qs)-1]
			if mark == "*" {
				q.right = len(q.Choices)
				rights++
			}
			q.Choices = append(q.Choices, text)
		default:
			return nil, apperr.Errorf(apperr.Invalid, "Line %d starts with neither \"? \" (a question), \"- \" (a wrong answer) nor \"* \" (the right answer).", i+1)
		}
	}
	if err := done(); err != nil {
		return nil, err
	}
	if len(qs) == 0 {
		return nil, apperr.New(apperr.Invalid, "The quiz has no question: write at least one line \"? your question\" with its answers.")
	}
	return qs, nil
}

// FormatQuiz writes questions back in the text format (the edit form
// starts from it). Only the server uses it.
func FormatQuiz(qs []Question) string {
	var b strings.Builder
	for i, q := range qs {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "? %s\n", q.Text)
		for j, c := range q.Choices {
			mark := "-"
			if j == q.right {
				mark = "*"
			}
			fmt.Fprintf(&b, "%s %s\n", mark, c)
		}
	}
	return b.String()
}

// quizMarker separates a built-in module file's lesson from its quiz.
const quizMarker = "%%% quiz"

// parseModuleFile reads a built-in module: header lines "key: value"
// (title, pass, audience) up to the first blank line, the lesson in
// Markdown, a line "%%% quiz", and the quiz.
func parseModuleFile(slug, src string) (Module, error) {
	m := Module{Slug: slug, Version: 1, Active: true, Builtin: true}
	head, rest, ok := strings.Cut(src, "\n\n")
	if !ok {
		return m, fmt.Errorf("training: module %s: no header", slug)
	}
	for _, line := range strings.Split(head, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return m, fmt.Errorf("training: module %s: header line %q", slug, line)
		}
		v = strings.TrimSpace(v)
		switch strings.TrimSpace(k) {
		case "title":
			m.Title = v
		case "pass":
			n, err := strconv.Atoi(v)
			if err != nil {
				return m, fmt.Errorf("training: module %s: pass %q", slug, v)
			}
			m.PassMark = n
		case "audience":
			roles, err := ParseAudience(strings.Split(v, ","))
			if err != nil {
				return m, fmt.Errorf("training: module %s: %w", slug, err)
			}
			m.Audience = roles
		default:
			return m, fmt.Errorf("training: module %s: unknown header %q", slug, k)
		}
	}
	lesson, quiz, ok := strings.Cut(rest, "\n"+quizMarker+"\n")
	if !ok {
		return m, fmt.Errorf("training: module %s: no %q line", slug, quizMarker)
	}
	m.Lesson, m.QuizText = strings.TrimSpace(lesson)+"\n", strings.TrimSpace(quiz)+"\n"
	var err error
	if m.Questions, err = ParseQuiz(m.QuizText); err != nil {
		return m, fmt.Errorf("training: module %s: %w", slug, err)
	}
	return m, m.check()
}
